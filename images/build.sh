#!/bin/sh
# Builds Tenantry's image without Docker: what `make images` runs (README, section Images).
# The same contents as images/Containerfile builds with Docker:
#   1. wheels: the locked dependencies (images/requirements.lock, hashes required) and Tenantry's
#      own wheel, built on this machine (no compiler ever enters the image);
#   2. rootfs: a minimal Debian (mmdebstrap) with python3, a venv in /opt/tenantry holding the
#      wheels, a user 65532; no pip, apt lists, docs or caches left;
#   3. OCI layout build/images/oci: one layer, three tags (operator, control-plane, app-plane)
#      that differ only in their command, with OCI labels and annotations (umoci);
#   4. docker archives build/images/<tag>.tar as tenantry/<tag>:dev for `kind load` (skopeo).
# The image holds the three components and tenantry_core, not the local platform (localplatform
# and `tenantry-dev` are development tools). Nothing is rebuilt while the hash of the inputs
# (lock file, pyproject, the components' sources, this script) is the one in
# build/images/inputs.sha256.
#
# Usage: images/build.sh [--if-possible]
#   --if-possible: on a machine that cannot build (not root, no apt-get), say so and exit 0;
#                  the local platform then runs pods as processes.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${TENANTRY_IMAGES_DIR:-$ROOT/build/images}
PYTHON=${PYTHON:-python3}
SUITE=bookworm
IMAGE_UID=65532
TAGS="operator control-plane app-plane"
SOURCE_URL=${TENANTRY_IMAGE_SOURCE:-https://github.com/tenantry/tenantry}
TOOLS="mmdebstrap umoci skopeo runc"

say() { echo "images: [$(( $(date +%s) - ${started:-$(date +%s)} ))s] $*" >&2; }

inputs_hash() {
    cd "$ROOT"
    find images/build.sh images/requirements.lock pyproject.toml tenantry_core control_plane \
        app_plane operator/tenantry_operator -type f ! -path '*/__pycache__/*' ! -name '*.pyc' \
        | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1
}

ensure_tools() {
    missing=""
    for tool in $TOOLS; do
        command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
    done
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing$missing (Debian packages)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
        return 0
    fi
    say "cannot build: missing$missing, and installing them needs root and apt-get"
    return 1
}

version() {
    "$PYTHON" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])'
}

HASH=$(inputs_hash)
if [ -f "$OUT/inputs.sha256" ] && [ "$(cat "$OUT/inputs.sha256")" = "$HASH" ] \
        && [ -f "$OUT/oci/index.json" ]; then
    say "up to date ($OUT, inputs $(echo "$HASH" | cut -c1-12))"
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    if [ "${1:-}" = "--if-possible" ]; then
        say "not root: skipping the image build; pods run as processes"
        exit 0
    fi
    say "building the image needs root (mmdebstrap and umoci own files as other users)"
    exit 1
fi
if ! ensure_tools; then
    [ "${1:-}" = "--if-possible" ] && exit 0
    exit 1
fi

started=$(date +%s)
cd "$ROOT"
VERSION=$(version)
WORK="$OUT/work"
rm -rf "$WORK"
mkdir -p "$WORK/wheels" "$OUT/wheel-cache"

say "wheels (locked dependencies, then tenantry $VERSION)"
# The cache keeps downloaded wheels between builds. The image gets exactly the lock's: each
# picked by name and version, and checked against the lock's hashes for that pin.
pick_wheels() {
    "$PYTHON" - "$OUT/wheel-cache" "$WORK/wheels" <<'EOF'
import hashlib, pathlib, re, shutil, sys
cache, dest = map(pathlib.Path, sys.argv[1:])
norm = lambda s: re.sub(r"[-_.]+", "_", s).lower()
lock = pathlib.Path("images/requirements.lock").read_text()
pins = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)((?:\s*\\\n\s+--hash=sha256:[0-9a-f]{64})+)", lock, re.M)
for name, version, hashes in pins:
    allowed = set(re.findall(r"[0-9a-f]{64}", hashes))
    found = [w for w in cache.glob("*.whl")
             if [norm(p) for p in w.name.split("-")[:2]] == [norm(name), norm(version)]
             and hashlib.sha256(w.read_bytes()).hexdigest() in allowed]
    if not found:
        sys.exit(f"no wheel for {name}=={version} matching the lock's hashes in {cache}")
    shutil.copy(found[0], dest)
EOF
}
if ! pick_wheels 2>/dev/null; then
    "$PYTHON" -m pip wheel --quiet --require-hashes --no-deps -r images/requirements.lock \
        --wheel-dir "$OUT/wheel-cache"
    pick_wheels
fi
"$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$WORK/wheels" .

say "rootfs (Debian $SUITE minbase + python3, venv in /opt/tenantry)"
export WHEELS="$WORK/wheels" IMAGE_UID
mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,ca-certificates \
    --aptopt='Acquire::Languages "none"' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --customize-hook='mkdir -p "$1/tmp/wheels" && cp "$WHEELS"/*.whl "$1/tmp/wheels/"' \
    --customize-hook='chroot "$1" python3 -m venv /opt/tenantry' \
    --customize-hook='chroot "$1" sh -c "/opt/tenantry/bin/pip install --quiet --no-cache-dir \
        --no-index --no-deps --disable-pip-version-check /tmp/wheels/*.whl"' \
    --customize-hook='chroot "$1" /opt/tenantry/bin/pip check' \
    --customize-hook='chroot "$1" /opt/tenantry/bin/pip uninstall --quiet -y pip setuptools' \
    --customize-hook='rm -rf "$1"/opt/tenantry/lib/python3*/site-packages/localplatform \
        "$1"/opt/tenantry/bin/tenantry-dev' \
    --customize-hook='chroot "$1" dpkg --purge python3-venv python3.11-venv python3-pip-whl \
        python3-setuptools-whl' \
    --customize-hook='echo "tenantry:x:$IMAGE_UID:$IMAGE_UID:Tenantry:/nonexistent:/usr/sbin/nologin" >> "$1/etc/passwd"' \
    --customize-hook='echo "tenantry:x:$IMAGE_UID:" >> "$1/etc/group"' \
    --customize-hook='printf "127.0.0.1 localhost\n::1 localhost\n" > "$1/etc/hosts"' \
    --customize-hook=': > "$1/etc/resolv.conf"' \
    --customize-hook='rm -rf "$1"/tmp/* "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* \
        "$1"/var/cache/debconf/*-old "$1"/var/log/* "$1"/root/.cache' \
    "$SUITE" "$WORK/rootfs"

say "OCI layout (umoci)"
LAYOUT="$WORK/oci"
umoci init --layout "$LAYOUT"
umoci new --image "$LAYOUT:base"
umoci insert --image "$LAYOUT:base" --history.created_by "images/build.sh" "$WORK/rootfs" /
set -- \
    --config.user "$IMAGE_UID:$IMAGE_UID" --config.workingdir /opt/tenantry \
    --config.env PATH=/opt/tenantry/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --config.env PYTHONUNBUFFERED=1 --config.env PYTHONDONTWRITEBYTECODE=1 \
    --config.env UVICORN_HOST=0.0.0.0 --config.env UVICORN_PORT=8000
for key in source version title; do
    case $key in
        source) value=$SOURCE_URL ;;
        version) value=$VERSION ;;
        title) value=tenantry ;;
    esac
    set -- "$@" --config.label "org.opencontainers.image.$key=$value" \
        --manifest.annotation "org.opencontainers.image.$key=$value"
done
umoci config --image "$LAYOUT:base" "$@" --config.exposedports 8000/tcp \
    --config.label dev.tenantry.inputs="$HASH"
for tag in $TAGS; do
    case $tag in
        operator) cmd='kopf run --all-namespaces --log-format=json --liveness=http://0.0.0.0:8081/healthz -m tenantry_operator.handlers' ;;
        control-plane) cmd='uvicorn control_plane.main:app --no-access-log' ;;
        app-plane) cmd='uvicorn app_plane.main:app --no-access-log' ;;
    esac
    set --
    for word in $cmd; do set -- "$@" --config.cmd "$word"; done
    umoci config --image "$LAYOUT:base" --tag "$tag" \
        --config.label "org.opencontainers.image.description=Tenantry $tag" "$@"
done
umoci rm --image "$LAYOUT:base"
umoci gc --layout "$LAYOUT"

say "docker archives (skopeo)"
for tag in $TAGS; do
    skopeo copy --quiet "oci:$LAYOUT:$tag" "docker-archive:$WORK/$tag.tar:tenantry/$tag:dev" \
        --additional-tag "tenantry/$tag:$VERSION"
done

# Unpacked copies of the old image (the simulated node's, `localplatform.containers`) go too.
rm -rf "$OUT/oci" "$OUT"/*.tar "$OUT/rootfs"
mv "$LAYOUT" "$OUT/oci"
for tag in $TAGS; do mv "$WORK/$tag.tar" "$OUT/$tag.tar"; done
rm -rf "$WORK"
# The app plane's root filesystem as the simulated node shares it read-only between its
# containers (`localplatform.containers.Image.rootfs`: rootfs/<algorithm>-<hex>/rootfs).
DIGEST=$("$PYTHON" -c 'import json, sys
index = json.load(open(sys.argv[1]))
print(next(m["digest"] for m in index["manifests"]
           if m["annotations"]["org.opencontainers.image.ref.name"] == "app-plane"))' \
    "$OUT/oci/index.json")
umoci unpack --image "$OUT/oci:app-plane" "$OUT/rootfs/$(echo "$DIGEST" | tr : -)" >/dev/null
echo "$HASH" > "$OUT/inputs.sha256"
say "built: $OUT/oci (tags: $TAGS), $OUT/<tag>.tar"
