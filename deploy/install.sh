#!/bin/sh
# Install or upgrade Tenantry on the cluster kubectl points at, in order: the CRDs (and wait
# until they are served), then the platform (deploy/overlays/OVERLAY), then the default Tiers
# that do not exist yet (a Tier you changed keeps your change).
#   deploy/install.sh production                     # install or upgrade
#   deploy/install.sh production --dry-run=server    # what the API server would accept, no change
# Extra arguments go to every kubectl call. KUBECTL names the kubectl to use.
set -eu
overlay=${1:?usage: deploy/install.sh dev|production [kubectl flags, e.g. --dry-run=server]}
shift
here=$(cd "$(dirname "$0")" && pwd)
kubectl=${KUBECTL:-kubectl}
# The install owns what it applies: an upgrade takes back fields someone else changed.
apply="apply --server-side --force-conflicts --field-manager=tenantry-install"

$kubectl $apply "$@" -k "$here/crds"
case " $* " in
  *" --dry-run"*) ;;
  *) $kubectl wait --for=condition=Established --timeout=60s \
       crd/tenants.tenantry.dev crd/tiers.tenantry.dev crd/clusterkopfpeerings.kopf.dev ;;
esac
$kubectl $apply "$@" -k "$here/overlays/$overlay"
if out=$($kubectl create "$@" -f "$here/../crds/default-tiers.yaml" 2>&1); then
  printf '%s\n' "$out"
else
  # A Tier that exists already is kept as it is; any other error fails the install.
  others=$(printf '%s\n' "$out" | grep -v -e '(AlreadyExists)' -e ' created' || true)
  if [ -n "$others" ]; then
    printf '%s\n' "$others" >&2
    exit 1
  fi
  printf '%s\n' "$out" | grep ' created' || true
fi
