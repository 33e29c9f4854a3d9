# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_WORKERS ?= 2
BENCH_SIZE ?=

.PHONY: run test lint typecheck pytest bench demo migrate clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/patron migrate
	$(BIN)/patron demo --if-empty
	$(BIN)/patron serve

test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --timeout 600

bench: $(STAMP)
	$(BIN)/python -m bench.run $(BENCH_SIZE)

migrate: $(STAMP)
	$(BIN)/patron migrate

demo: $(STAMP)
	$(BIN)/patron demo

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
