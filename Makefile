# TDS Core — `make help` lists the targets. `make run` and `make test` set everything up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.DEFAULT_GOAL := help
.PHONY: help setup run test test-fast lint format docs bench soak clean dashboard dashboard-test e2e chromium deploy-tools bench-tools

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP) ## Create .venv and install pinned dependencies (constraints.txt)

DASHBOARD := dashboard
DASHBOARD_DEPS := $(DASHBOARD)/node_modules/.package-lock.json
DASHBOARD_SOURCES := $(shell find $(DASHBOARD)/src $(DASHBOARD)/public -type f 2>/dev/null) \
	$(wildcard $(DASHBOARD)/index.html $(DASHBOARD)/vite.config.ts $(DASHBOARD)/tsconfig*.json $(DASHBOARD)/package.json)

$(DASHBOARD_DEPS): $(DASHBOARD)/package-lock.json
	cd $(DASHBOARD) && npm ci --no-audit --no-fund
	touch $@

$(DASHBOARD)/dist/index.html: $(DASHBOARD_DEPS) $(DASHBOARD_SOURCES)
	cd $(DASHBOARD) && npm run build

dashboard: $(DASHBOARD)/dist/index.html ## Build the dashboard into dashboard/dist (npm ci from the lock file when needed)

dashboard-test: $(DASHBOARD_DEPS) ## Dashboard: generated API client current, type check, Vitest component tests
	cd $(DASHBOARD) && npm run check:api && npm run lint && npm test

chromium: ## Debian's Chromium for the end-to-end tests (installed when missing; never a browser download)
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }

deploy-tools: ## Debian's nginx for the deployment checks in tests/deploy (`nginx -t`; installed when missing)
	@command -v nginx >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx; }

bench-tools: ## Debian's wrk, the C load client of `make bench` (installed when missing; without it the bench uses aiohttp)
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; } \
		|| echo "warning: could not install wrk (Debian package wrk); make bench falls back to the aiohttp client" >&2

e2e: setup dashboard chromium ## The dashboard in headless Chromium against a real TDS with simulator traffic
	cd $(DASHBOARD) && npm run e2e

run: setup dashboard ## Run TDS Core (API + workers + scheduler + simulator + dashboard) on the embedded PostgreSQL, on http://127.0.0.1:8000
	$(BIN)/tds up

lint: setup ## ruff (lint + format check), mypy --strict on src, import-linter contracts
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

format: setup ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

test: setup lint dashboard-test deploy-tools ## Lint, the whole Python suite on a real PostgreSQL (embedded, or TDS_TEST_DATABASE_URL), the dashboard's component and end-to-end tests
	$(BIN)/pytest
	$(MAKE) e2e

test-fast: setup ## Unit and integration tests only (no process-killing acceptance tests)
	$(BIN)/pytest tests/unit tests/integration tests/migration

docs: setup ## Regenerate docs/api.md and docs/openapi.json from the code
	$(BIN)/python -m tds_core.api.reference docs

bench: setup bench-tools ## Run the benchmarks in bench/ (HTTP load from wrk; and a 10-minute soak) and write docs/performance.md with charts
	$(BIN)/python -m bench.run

SOAK_SECONDS ?= 600
soak: setup ## 2 APIs + 4 workers + scheduler at 500,000 events/h with SIGKILLs, a PostgreSQL restart and an ERP outage; prints the invariants (SOAK_SECONDS=600)
	$(BIN)/python -m bench.soak --duration $(SOAK_SECONDS) --json .soak/soak.json --charts .soak/charts --workdir .soak/run

clean: ## Remove the virtualenv, caches, the embedded database and the dashboard's build
	rm -rf $(VENV) .tds .pytest_cache .mypy_cache .ruff_cache $(DASHBOARD)/node_modules $(DASHBOARD)/dist .soak
