# Two commands do all the set-up on a fresh machine with Python ≥ 3.11:
#   make demo   — create .venv, install reconcile, run the bundled sample county into ./reconcile-demo/
#   make test   — create .venv, install reconcile with its test extras, run mypy and the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,gx,web,spark]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/reconcile demo

test: $(STAMP)
	$(BIN)/mypy reconcile
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check reconcile tests benchmarks

clean:
	rm -rf $(VENV) reconcile-demo
