# CRM Workbook — run `make help` for the list of targets.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := data/demo/truth.json
PACK ?= --all

.DEFAULT_GOAL := help
.PHONY: help install demo-data reports test bench lab lint format clean

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  make %-11s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 is needed (python3.11 or python3 on PATH)"; exit 1; }
	$(PYTHON) -m venv $(VENV) || { echo "creating $(VENV) failed; on Debian/Ubuntu: apt-get install python3-venv"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install the workbook with its dependencies

$(DEMO): | $(STAMP)
	$(BIN)/crmwb demo-data

demo-data: $(DEMO) ## Build the synthetic demo retailer in data/demo (once)

reports: $(STAMP) $(DEMO) ## Build every report pack from params/reports.yaml into reports/
	$(BIN)/crmwb run $(PACK)

test: $(STAMP) ## Run the test suite
	$(BIN)/python -m pytest

bench: $(STAMP) ## Run the speed benchmarks (results in reports/bench/)
	@set -e; for b in tests/benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b $(BENCH_ARGS); done

lab: $(STAMP) $(DEMO) ## Open JupyterLab on the notebooks
	$(BIN)/jupyter lab notebooks/

lint: $(STAMP) ## Check style with ruff
	$(BIN)/ruff check crmlib tests
	$(BIN)/ruff format --check crmlib tests

format: $(STAMP) ## Format the code with ruff
	$(BIN)/ruff format crmlib tests
	$(BIN)/ruff check --fix crmlib tests

clean: ## Remove generated reports and caches (keeps data and .venv)
	rm -rf reports/*/ reports/index.html .pytest_cache .ruff_cache
