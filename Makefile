# kesu — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
KESU := $(BIN)/kesu
DEMO_COMPLAINTS ?= 2000
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format bench install install-test system-deps i18n echarts clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e ".[test]"
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

## Install, migrate, load demo data into an empty database, serve on http://127.0.0.1:8000.
run: install
	$(KESU) db upgrade
	$(KESU) demo --if-empty --complaints $(DEMO_COMPLAINTS)
	$(KESU) serve --with-worker --host $(HOST) --port $(PORT)

system-deps:
	bash scripts/install-system-deps.sh

lint: install-test
	$(BIN)/ruff check kesu tests benchmarks
	$(BIN)/ruff format --check kesu tests benchmarks
	$(BIN)/mypy kesu

format: install-test
	$(BIN)/ruff format kesu tests benchmarks
	$(BIN)/ruff check --fix kesu tests benchmarks

## The whole suite, on SQLite and on a throw-away PostgreSQL, plus the browser test, in
## TEST_WORKERS parallel processes (pytest-xdist; each worker has its own PostgreSQL server,
## SQLite template and dovecot; `make test TEST_WORKERS=0` runs in one process).
TEST_WORKERS ?= 3
test: install-test system-deps lint
	KESU_TEST_REQUIRE_PG=1 $(BIN)/pytest -q -n $(TEST_WORKERS) --dist worksteal --durations=30

## All HTTP benchmarks, the side-by-side intake figure against django-helpdesk first (its venv
## under bench-results/); BENCH_ARGS passes flags, e.g. BENCH_ARGS="--only compare --rounds 3".
BENCH_ARGS ?=
bench: install-test
	bash scripts/install-system-deps.sh --bench
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

i18n: install-test
	$(BIN)/python scripts/i18n.py sync

## Refresh the vendored Apache ECharts from the npm registry (ECHARTS_VERSION=x.y.z to pin).
echarts:
	bash scripts/vendor-echarts.sh

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
