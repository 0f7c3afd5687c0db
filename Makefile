# Tenantry: `make dev` runs the whole platform locally; `make test` runs every test.
# Both set everything up themselves (venv, dependencies, Kubernetes binaries, Postgres).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test unit integration lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

dev: $(STAMP)
	$(BIN)/tenantry-dev up

test: $(STAMP) lint typecheck
	$(BIN)/pytest

unit: $(STAMP)
	$(BIN)/pytest tests/unit

integration: $(STAMP)
	$(BIN)/pytest tests/integration

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench

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
