# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Extras installed with the project: `make test EXTRAS=dev,spark` adds PySpark (a large download)
# so the PySpark engine tests run too (.ci/run does); without it they are skipped with the reason.
EXTRAS ?= dev
comma := ,
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
# Every install is held to the versions in constraints.txt (repeatable installs; see
# docs/operations.md for how to refresh it).
CONSTRAINTS := constraints.txt
PYTEST_WORKERS ?= 2
BENCH_SIZE ?=
# make run's first start replays the demo history through the programs: keep it a few minutes.
DEMO_MEMBERS ?= 300
DEMO_MONTHS ?= 12

.PHONY: install run test lint typecheck pytest bench demo migrate clean messages screenshots

$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c $(CONSTRAINTS) -e '.[$(EXTRAS)]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/patron migrate
	$(BIN)/patron demo --if-empty --members $(DEMO_MEMBERS) --months $(DEMO_MONTHS)
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

# Refresh the Chinese catalog after adding page strings (then translate the empty entries).
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k translate:2 -k N_ --no-location -o var/messages.pot .
	$(BIN)/pybabel update -i var/messages.pot -d src/patron/web/translations -l zh_Hans --no-fuzzy-matching

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

# Every page of the dashboard and the portal, in English and Chinese, as the owner, a clerk and
# a member: PNGs and an index.html under var/screenshots/ (docs/dashboard.md).
screenshots: $(STAMP)
	$(BIN)/python -m patron.devtools.screenshots --source var/patron.db --out var/screenshots
