# Two commands on a fresh machine: `make run` and `make test` (README.md).
SHELL := /bin/bash
PYTHON ?= python3
PORT ?= 8888
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run hub test handouts bench bench-apps setup system-deps clean

run: setup
	@PORT=$(PORT) $(BIN)/python -m workbench.server --port $(PORT)

# The multi-staff set-up: JupyterHub and PostgreSQL (deploy/setup-hub; README, "Multi-staff").
hub: setup
	@bash deploy/setup-hub

# Two pytest-xdist workers, a test module (all of tests/e2e) at a time each (tests/conftest.py);
# `make test PYTEST_ARGS="-n 0"` runs the tests in one process instead.
PYTEST_XDIST ?= -n 2 --dist loadfile --no-loadscope-reorder
test: setup
	$(BIN)/python -m pytest $(PYTEST_XDIST) $(PYTEST_ARGS)

# Every workshop notebook executed in Chinese and in English, as HTML for a trainer (handouts/).
handouts: setup
	$(BIN)/python -m workbench.handouts --out handouts

bench: setup
	$(BIN)/python benchmarks/run.py

bench-apps: setup
	$(BIN)/python benchmarks/bench_apps.py

setup: system-deps $(STAMP)

# Debian packages the workbench and its tests need (scripts/debian-packages.txt).
system-deps:
	@bash scripts/system-deps.sh

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python -m pip install --quiet -e '.[test,bench,hub]' 2>&1 | grep -v "^WARNING: Location"; test $${PIPESTATUS[0]} -eq 0
	@touch $(STAMP)

clean:
	rm -rf $(VENV) .pytest_cache
