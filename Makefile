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
WEB_DIST := web/dist/index.html
WEB_DEPS := web/node_modules/.crontopus-installed
# Build backends (hatchling) are pinned by the same constraints file.
export PIP_CONSTRAINT := $(abspath $(CONSTRAINTS))
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install run test checks lint types pytest schema clean web web-test bench dist

$(BIN)/.installed: $(CONSTRAINTS) VERSION pyproject.toml hatch_pins.py $(foreach d,$(DISTS),$(d)/pyproject.toml) $(EXAMPLE_DRIVER)/pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Crontopus needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==$$(sed -n 's/^pip==//p' $(CONSTRAINTS))"
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) $(foreach d,$(DISTS),-e ./$(d)) -e '.[all]' --group dev
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e ./$(EXAMPLE_DRIVER)
	touch $@

install: $(BIN)/.installed

## Start the platform on embedded defaults (SQLite and a managed Git store under ./data).
# Without Node the API, the Git store and check-ins still run; only the console is missing.
run: install
	@test -f $(WEB_DIST) || $(MAKE) web || echo "warning: the web console could not be built (needs Node 20.19+); serving the API only" >&2
	$(BIN)/crontopus-server serve --migrate --host $(HOST) --port $(PORT)

## Lint, type-check and run the whole test suite (SQLite always; PostgreSQL when CRONTOPUS_TEST_POSTGRES_URL is set).
# The static checks (one core, mostly mypy) run beside the web checks (mostly waiting on the
# browser), then pytest gets the machine to itself.
test: install
	$(MAKE) --no-print-directory --jobs 2 --output-sync=target checks web-test
	$(MAKE) --no-print-directory pytest

checks: lint types

# The web console (web/, npm). Node 20.19+ is needed to build it; `make run` builds it only when
# web/dist is missing, so a checkout with a built console runs without Node.
$(WEB_DEPS): web/package.json web/package-lock.json
	@node -e 'const [a, b] = process.versions.node.split(".").map(Number); if (a < 20 || (a === 20 && b < 19)) { console.error("The Crontopus web console needs Node 20.19 or newer to build, found " + process.version); process.exit(1); }' \
	  || { echo "Install Node 20.19+ (and npm), or use a crontopus-server wheel, which ships the built console." >&2; exit 1; }
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(WEB_DIST):
	$(MAKE) web

## Build the web console into web/dist (typed operations, type-check, bundle).
web: $(WEB_DEPS)
	cd web && npm run --silent build -- --logLevel warn

## Web checks: unit tests, operations against docs/schema.graphql, browser tests against a real server.
web-test: install web
	cd web && npx vitest run
	cd web && npm run --silent check:operations
	node --test --test-concurrency=1 tests/e2e/

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types:
	$(BIN)/mypy -p crontopus.core -p crontopus.drivers -p crontopus.agent -p crontopus.server -p crontopus.cli
	$(BIN)/mypy benchmarks $(EXAMPLE_DRIVER)/src/crontopus_driver_crond.py
	# The agent and its drivers run on Windows and macOS too: type-check them as those platforms.
	$(BIN)/mypy --platform win32 -p crontopus.core -p crontopus.drivers -p crontopus.agent
	$(BIN)/mypy --platform darwin -p crontopus.core -p crontopus.drivers -p crontopus.agent
	# The tests are type-checked as strictly as the code, the example driver's included.
	$(BIN)/mypy tests $(EXAMPLE_DRIVER)/tests

# pytest-xdist workers, two per core: most tests wait on servers, subprocesses and the cron daemon
# more than they compute. Each test file stays on one worker, and the files with machine tests
# share one (tests/conftest.py). `make pytest PYTEST_WORKERS=` runs the suite in one process.
PYTEST_WORKERS ?= --numprocesses $(shell echo $$(( $$(nproc) * 2 )))
pytest:
	$(BIN)/pytest $(PYTEST_WORKERS) $(PYTEST_ARGS)

## Run every benchmark and print one table (BENCH_ARGS="--write-readme" updates benchmarks/README.md).
bench: install
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

## Build the wheels and sdists of every distribution into $(DIST_DIR), all of version $(VERSION).
# The agent's distributions come first: the server's wheel carries them (see server/hatch_build.py),
# along with the migrations and the built console.
DIST_DIR ?= dist
VERSION := $(shell cat VERSION)
dist: install $(WEB_DIST)
	mkdir -p $(DIST_DIR)
	rm -f $(DIST_DIR)/crontopus-* $(DIST_DIR)/crontopus_*
	for d in core drivers agent clients .; do \
	  $(BIN)/python -m build --no-isolation --outdir $(DIST_DIR) $$d >/dev/null || exit 1; done
	CRONTOPUS_AGENT_WHEELS=$(abspath $(DIST_DIR)) \
	  $(BIN)/python -m build --no-isolation --outdir $(DIST_DIR) server >/dev/null
	@ls -1 $(DIST_DIR) | grep -E '^crontopus([-_][a-z]+)?-$(VERSION)[-.]'

## Regenerate docs/schema.graphql from the server's schema.
schema: install
	$(BIN)/crontopus-server export-schema --output docs/schema.graphql

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
