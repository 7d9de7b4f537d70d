# Two commands do all the set-up on a fresh machine with Python ≥ 3.11:
#   make demo   — create .venv, install reconcile and its web page (not Spark, Great Expectations, Playwright or
#                 Jupyter), run the bundled sample county into ./reconcile-demo/
#   make test   — create .venv, install reconcile with every extra the tests use, run mypy and the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
APP_STAMP := $(VENV)/.installed-app
STAMP := $(VENV)/.installed

.PHONY: demo test lint clean

$(APP_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[web]"
	touch $(APP_STAMP)

$(STAMP): $(APP_STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,gx,web,spark]"
	touch $(STAMP)

demo: $(APP_STAMP)
	$(BIN)/reconcile demo

test: $(STAMP)
	$(BIN)/mypy reconcile
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check reconcile tests benchmarks

clean:
	rm -rf $(VENV) reconcile-demo
