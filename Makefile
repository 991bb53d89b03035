# lossbench: `make train` trains the default setup, `make test` runs the tests.
# Both create .venv and install what they need on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Pins the CPU build of torch for CPU-only machines (CI); `make install CONSTRAINTS=` skips it.
CONSTRAINTS ?= constraints-cpu.txt
PIP_CONSTRAINTS := $(if $(CONSTRAINTS),-c $(CONSTRAINTS),)
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: install train test test-slow lint format clean

$(STAMP): pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(PIP_CONSTRAINTS) -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

train: $(STAMP)
	$(BIN)/lossbench-train $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -q $(ARGS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow -q $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts

format: $(STAMP)
	$(BIN)/ruff format src tests scripts
	$(BIN)/ruff check --fix src tests scripts

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
