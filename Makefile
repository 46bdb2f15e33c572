# Crontopus developer entry points. `make run` and `make test` are the two commands in README.md.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONSTRAINTS := constraints.txt
DISTS := core drivers agent server clients
# The third-party driver example of docs/drivers.md, installed so its tests run with the suite.
EXAMPLE_DRIVER := docs/examples/crontopus-driver-crond
HOST ?= 127.0.0.1
PORT ?= 8080
# Build backends (hatchling) are pinned by the same constraints file.
export PIP_CONSTRAINT := $(abspath $(CONSTRAINTS))
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install run test lint types pytest schema clean

$(BIN)/.installed: $(CONSTRAINTS) pyproject.toml $(foreach d,$(DISTS),$(d)/pyproject.toml) $(EXAMPLE_DRIVER)/pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Crontopus needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==$$(sed -n 's/^pip==//p' $(CONSTRAINTS))"
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) $(foreach d,$(DISTS),-e ./$(d)) -e '.[all]' --group dev
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e ./$(EXAMPLE_DRIVER)
	touch $@

install: $(BIN)/.installed

## Start the platform on embedded defaults (SQLite and a managed Git store under ./data).
run: install
	$(BIN)/crontopus-server serve --migrate --host $(HOST) --port $(PORT)

## Lint, type-check and run the whole test suite (SQLite always; PostgreSQL when CRONTOPUS_TEST_POSTGRES_URL is set).
test: install lint types pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types:
	$(BIN)/mypy -p crontopus.core -p crontopus.drivers -p crontopus.agent -p crontopus.server -p crontopus.cli
	$(BIN)/mypy benchmarks $(EXAMPLE_DRIVER)/src/crontopus_driver_crond.py

pytest:
	$(BIN)/pytest $(PYTEST_ARGS)

## Regenerate docs/schema.graphql from the server's schema.
schema: install
	$(BIN)/crontopus-server export-schema --output docs/schema.graphql

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
