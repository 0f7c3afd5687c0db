# Tenantry: `make dev` runs the whole platform locally; `make test` runs every test.
# Both set everything up themselves (venv, dependencies, Kubernetes binaries, Postgres).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test test-slow unit integration lint typecheck bench clean images images-if-possible lock \
	pgbouncer-if-possible

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

dev: $(STAMP) images-if-possible
	$(BIN)/tenantry-dev up

# Two workers, each with a platform of its own; a test file stays on one worker, and the
# longest files start first (tests/conftest.py). The slowest fault tests (marked `slow`) run in
# `make test-slow`; CI runs both (.ci/run).
PYTEST_XDIST := -n 2 --dist loadfile --no-loadscope-reorder --durations=15
test: $(STAMP) images-if-possible pgbouncer-if-possible lint typecheck
	$(BIN)/pytest $(PYTEST_XDIST) -m "not slow"

test-slow: $(STAMP) images-if-possible pgbouncer-if-possible
	$(BIN)/pytest $(PYTEST_XDIST) -m slow

unit: $(STAMP)
	$(BIN)/pytest tests/unit

integration: $(STAMP) pgbouncer-if-possible
	$(BIN)/pytest tests/integration

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# Every benchmark against one local platform; the table goes to bench/results/latest.{json,md}.
# `python -m bench --quick` runs small counts (tests/integration/test_bench_quick.py does, in CI).
bench: $(STAMP)
	$(BIN)/python -m bench

# The image (operator, control plane, app plane) as an OCI layout and docker archives in
# build/images, without Docker; rebuilt only when its inputs change (images/build.sh).
images:
	PYTHON=$(PYTHON) images/build.sh

# For make dev and make test: where the image cannot be built (not root), pods run as processes.
images-if-possible:
	PYTHON=$(PYTHON) images/build.sh --if-possible

# PgBouncer (Debian) for tests/integration/test_pgbouncer.py: installed where root has apt-get;
# elsewhere those tests are skipped, saying so.
pgbouncer-if-possible:
	@command -v pgbouncer >/dev/null || test -x /usr/sbin/pgbouncer || \
		{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null; } || \
		echo "pgbouncer: not installed (needs root and apt-get); tests/integration/test_pgbouncer.py skips"

# Re-resolve the image's dependencies from pyproject.toml into images/requirements.lock.
lock:
	$(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/pip install --quiet pip-tools
	build/lock-venv/bin/pip-compile --quiet --upgrade --generate-hashes --strip-extras \
		--no-emit-index-url --no-emit-find-links --output-file images/requirements.lock pyproject.toml

clean:
	rm -rf .tenantry

# make kind (needs Docker and kind): a kind cluster with Tenantry installed from
# deploy/overlays/dev, the images from `make images` loaded into it, then checked end to end
# against the installed components (deploy/kind-e2e.sh). It cannot run on machines without Docker.
KIND_CLUSTER ?= tenantry
KIND_IMAGES := operator control-plane app-plane
KIND_KUBECTL = kubectl --context kind-$(KIND_CLUSTER)
.PHONY: kind
kind: images
	kind get clusters | grep -qx $(KIND_CLUSTER) || kind create cluster --name $(KIND_CLUSTER) --wait 120s
	for image in $(KIND_IMAGES); do \
		kind load image-archive build/images/$$image.tar --name $(KIND_CLUSTER) || exit 1; \
	done
	deploy/overlays/dev/secrets.sh
	KUBECTL="$(KIND_KUBECTL)" deploy/install.sh dev
	KUBECTL="$(KIND_KUBECTL)" deploy/kind-e2e.sh
