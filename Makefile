# TDS Core — `make help` lists the targets. `make run` and `make test` set everything up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.DEFAULT_GOAL := help
.PHONY: help setup run test test-fast lint format docs bench clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP) ## Create .venv and install pinned dependencies (constraints.txt)

run: setup ## Run TDS Core (API + workers) on the embedded PostgreSQL, on http://127.0.0.1:8000
	$(BIN)/tds up

lint: setup ## ruff (lint + format check), mypy --strict on src, import-linter contracts
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

format: setup ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

test: setup lint ## Lint, then the whole test suite on a real PostgreSQL (embedded, or TDS_TEST_DATABASE_URL)
	$(BIN)/pytest

test-fast: setup ## Unit and integration tests only (no process-killing acceptance tests)
	$(BIN)/pytest tests/unit tests/integration tests/migration

docs: setup ## Regenerate docs/api.md and docs/openapi.json from the code
	$(BIN)/python -m tds_core.api.reference docs

bench: setup ## Run the benchmarks in bench/ and print throughput, latency percentiles and memory
	$(BIN)/python -m bench.run

clean: ## Remove the virtualenv, caches and the embedded database
	rm -rf $(VENV) .tds .pytest_cache .mypy_cache .ruff_cache
