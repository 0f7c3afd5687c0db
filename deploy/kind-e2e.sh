#!/bin/sh
# make kind's end-to-end check of Tenantry as installed in a cluster (deploy/overlays/dev): every
# component rolls out; a signup through the control plane's Service becomes a Ready pool Tenant;
# a silo Tenant gets its own database and app pods, which the cluster's kubelet runs from the
# app-plane image; both are deleted and offboarded. KUBECTL names the kubectl (and context).
set -eu
kubectl=${KUBECTL:-kubectl}
ns=tenantry-system
port=${PORT:-18080}
api=http://127.0.0.1:$port

$kubectl -n $ns rollout status --timeout=300s \
  deploy/tenantry-postgres deploy/tenantry-operator deploy/tenantry-control-plane deploy/app-pool
$kubectl -n $ns port-forward svc/tenantry-control-plane "$port:80" >/dev/null &
forward=$!
trap 'kill $forward' EXIT
tries=0
until curl -sf "$api/healthz" >/dev/null; do
  tries=$((tries + 1))
  [ $tries -lt 100 ] || { echo "the control plane does not answer" >&2; exit 1; }
  sleep 0.2
done

run=$(date +%s)
curl -sf -X POST "$api/api/v1/signup" -H 'content-type: application/json' -d "{
  \"company\": \"Kind $run\", \"email\": \"owner@kind-$run.example.com\",
  \"password\": \"correct horse battery staple\", \"tier\": \"free\"}" >/dev/null
$kubectl wait --for=condition=Ready --timeout=120s "tnt/kind-$run"

$kubectl apply -f - <<YAML
apiVersion: tenantry.dev/v1alpha1
kind: Tenant
metadata: {name: kind-silo-$run}
spec: {tier: enterprise, deletionPolicy: Delete}
YAML
$kubectl wait --for=condition=Ready --timeout=300s "tnt/kind-silo-$run"
$kubectl -n "tenant-kind-silo-$run" rollout status --timeout=120s deploy/app

$kubectl delete --timeout=120s "tnt/kind-$run" "tnt/kind-silo-$run"
echo "kind end-to-end: signup, pool and silo tenants, offboarding: ok"
