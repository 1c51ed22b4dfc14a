# Pybernetes — the two commands a newcomer needs are `make up` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DATA_DIR ?= $(if $(filter 0,$(shell id -u)),/var/lib/pybernetes,$(HOME)/.local/share/pybernetes)
PYTEST_ARGS ?=

.PHONY: up deps venv test unit integration e2e lint bench down clean

## Install system packages (as root) and the Python environment, then start a single-node cluster.
up: deps venv
	@echo "starting pybernetes (data in $(DATA_DIR)); kubeconfig: $(DATA_DIR)/kubeconfig.yaml"
	$(VENV)/bin/pybernetes server --data-dir $(DATA_DIR) --write-kubeconfig $(HOME)/.kube/config

## System packages the node and the tests use (Debian). Needs root; skipped otherwise.
deps:
	@if [ "$$(id -u)" = 0 ]; then tools/install-deps.sh; else echo "not root: skipping system packages"; fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $@

## Run every test: lint, unit, integration (real server + real kubectl/python client), e2e (root).
test: venv
	$(VENV)/bin/ruff check src tests tools bench
	$(VENV)/bin/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

unit: venv
	$(VENV)/bin/pytest -q tests/unit $(PYTEST_ARGS)

integration: venv
	$(VENV)/bin/pytest -q tests/integration $(PYTEST_ARGS)

e2e: venv
	$(VENV)/bin/pytest -q tests/e2e $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check src tests tools bench

## Benchmarks; results are written to docs/BENCHMARKS.md.
bench: venv
	$(PY) -m bench.run --out docs/BENCHMARKS.md

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
