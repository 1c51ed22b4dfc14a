# Pybernetes — the two commands a newcomer needs are `make up` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DATA_DIR ?= $(if $(filter 0,$(shell id -u)),/var/lib/pybernetes,$(HOME)/.local/share/pybernetes)
PYTEST_ARGS ?=
PID_FILE := $(DATA_DIR)/server.pid
REGISTRY_DIR := $(DATA_DIR)/test-registry
REGISTRIES_YAML ?= $(if $(filter 0,$(shell id -u)),/etc/pybernetes/registries.yaml,$(REGISTRY_DIR)/registries.yaml)

.PHONY: up deps venv images test unit integration e2e lint bench down clean

## Install system packages (as root) and the Python environment, serve the test images from a local registry
## that mirrors docker.io, then start a single-node cluster in the foreground (its PID in $(PID_FILE)).
up: deps venv images
	@echo "starting pybernetes (data in $(DATA_DIR)); kubeconfig: $(DATA_DIR)/kubeconfig.yaml"
	@mkdir -p $(DATA_DIR)
	echo $$$$ > $(PID_FILE); exec $(VENV)/bin/pybernetes server --data-dir $(DATA_DIR) \
		--write-kubeconfig $(HOME)/.kube/config $$([ -f $(REGISTRIES_YAML) ] && echo --registry-config $(REGISTRIES_YAML))

## The test images (busybox, nginx; built from Debian packages) in a registry on 127.0.0.1:5000, and a
## registries.yaml mirroring docker.io to it, so pods pull `nginx:latest` offline. Reuses a running registry.
images: venv
	$(PY) tools/build-test-images.py --data-dir $(REGISTRY_DIR) --registries-yaml $(REGISTRIES_YAML)

## Stop what `make up` started: the server (by its PID file), then the node's pods with their runtime shim (they
## outlive the server, as k3s's do), the pod volumes left mounted, and the test registry. Data is kept.
down:
	@pid=$$(cat $(PID_FILE) 2>/dev/null); \
	if [ -n "$$pid" ] && tr '\0' ' ' < /proc/$$pid/cmdline 2>/dev/null | grep -q 'pybernetes server'; then \
		echo "stopping pybernetes server (pid $$pid)"; kill -TERM $$pid; \
		for i in $$(seq 120); do kill -0 $$pid 2>/dev/null || break; sleep 0.5; done; \
		kill -0 $$pid 2>/dev/null && { echo "server still running after 60s: killing it"; kill -KILL $$pid; }; \
	else echo "no pybernetes server running (pid file $(PID_FILE))"; fi; \
	rm -f $(PID_FILE)
	@if [ -x $(VENV)/bin/pybernetes ] && [ -d $(DATA_DIR)/agent/runtime ]; then \
		$(VENV)/bin/pybernetes shim --root $(DATA_DIR)/agent/runtime --socket $(DATA_DIR)/agent/runtime/shim.sock \
			--stop; fi
	@awk -v p="$(DATA_DIR)/agent/pods/" 'index($$5, p) == 1 { print $$5 }' /proc/self/mountinfo | sort -r | \
		xargs -r -n1 umount -l
	@if [ -x $(PY) ]; then $(PY) tools/build-test-images.py --data-dir $(REGISTRY_DIR) --stop; fi

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
