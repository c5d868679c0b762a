# somlier: the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test unit integration lint format bench clean dist

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## demo: run the main job on the example monorepo (embedded defaults, no cloud account)
demo: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" bash examples/demo.sh

## test: unit and integration tests
test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/unit tests/integration

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest -q tests/integration

## lint: ruff, mypy --strict on the package, and the layer contract (lint-imports)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check pipeline tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

format: $(STAMP)
	$(BIN)/ruff format pipeline tests benchmarks
	$(BIN)/ruff check --fix .

## bench: speed measurements (results go in docs/benchmarks.md)
bench: $(STAMP)
	$(BIN)/python benchmarks/validate.py
	$(BIN)/python benchmarks/plan.py

## dist: the wheel and the sdist, in $(DIST) (install the wheel with `pipx install dist/somlier-*.whl`)
DIST ?= dist
dist: $(STAMP)
	$(BIN)/python -m build --outdir $(DIST) .

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache .pytest_cache

## services: start the integration tests' Docker engine and registry (root; `make test` starts them on demand)
.PHONY: services services-stop base-image
services:
	bash .ci/services.sh install
	bash .ci/services.sh start

services-stop:
	bash .ci/services.sh stop

## base-image: build (once, cached) and import the tests' Python base image
base-image: services
	bash .ci/services.sh base-image

## airflow: the Airflow virtualenvs of `somlier dags check` and its tests (once): .venv-airflow (3), .venv-airflow2 (2)
.PHONY: airflow bench-dags
airflow:
	bash .ci/airflow.sh 3 >/dev/null
	bash .ci/airflow.sh 2 >/dev/null

## bench-dags: DagBag fill of 100 somlier DAG files vs the same 100 jobs through dag-factory
bench-dags: $(STAMP) airflow
	$(BIN)/python benchmarks/dags.py

## bench-serve: the same registered model served by `mlflow models serve` and by `somlier online deploy`
.PHONY: bench-serve
bench-serve: $(STAMP)
	$(BIN)/python benchmarks/serve.py
