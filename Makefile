# reportcard: `make demo` runs the main job, `make test` runs the whole test suite.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: screenshots demo test test-sqlite test-pg test-cd2 lint typecheck security bench install migration clean chromium

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The browser tests (tests/web) drive Debian's Chromium through Playwright; never a browser
# that Playwright downloads. Installed here when missing (the machines run as root).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium

chromium: $(CHROMIUM)

# `make demo PORT=8080` serves on another port (DEMO_ARGS="--size tiny" for a quick one);
# Ctrl-C stops it with status 0.
PORT ?= 8000
demo: $(STAMP)
	$(BIN)/reportcard demo --port $(PORT) $(DEMO_ARGS)

# The PostgreSQL lane needs a role that may create databases (the test template is cloned).
PG_TEST_URL ?= postgresql://postgres@127.0.0.1/postgres

# The two lanes run side by side: one pytest process keeps a core busy a little over half the
# time (it waits on servers, workers and the browser), so the pair takes about the longer lane
# (22 min against 34 min one after the other, docs/testing.md). Each lane's output is printed
# whole when it ends; `make test-sqlite` or `make test-pg` runs one lane as it goes.
test: $(STAMP) $(CHROMIUM)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy
	$(MAKE) security
	@echo "test: the SQLite and PostgreSQL lanes side by side; each prints its output when it ends"
	$(MAKE) -j2 --output-sync=target test-sqlite test-pg

test-sqlite: $(STAMP) $(CHROMIUM)
	$(BIN)/pytest -q

test-pg: $(STAMP) $(CHROMIUM)
	REPORTCARD_TEST_POSTGRES=$(PG_TEST_URL) $(BIN)/pytest -q -m "not sqlite_only"

# The CD2 round trips on the medium institution (make test runs them on small): both lanes.
test-cd2: $(STAMP)
	REPORTCARD_CD2_ROUNDTRIP_SIZE=medium $(BIN)/pytest -q tests/lms/cd2
	REPORTCARD_CD2_ROUNDTRIP_SIZE=medium REPORTCARD_TEST_POSTGRES=$(PG_TEST_URL) $(BIN)/pytest -q -m "not sqlite_only" tests/lms/cd2

# Refresh the pictures in docs/screenshots/ (the README shows them) from the browser tests.
screenshots: $(STAMP) $(CHROMIUM)
	REPORTCARD_SCREENSHOT_DIR=docs/screenshots $(BIN)/pytest -q tests/web/test_browser.py tests/web/test_schedules_browser.py

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

typecheck: $(STAMP)
	$(BIN)/mypy

# Static analysis (bandit: medium+ severity and confidence fail; docs/security-review.md
# justifies the low ones) and known vulnerabilities in the installed packages (pip-audit; an
# unreachable vulnerability service is reported, not failed).
security: $(STAMP)
	$(BIN)/bandit -q -r src/reportcard -c pyproject.toml --severity-level medium --confidence-level medium
	$(BIN)/python scripts/pip_audit_check.py

bench: $(STAMP)
	@command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null || echo "bench: wrk missing (apt-get install wrk)"
	$(BIN)/python -m bench
	$(BIN)/python -m bench.other_reports
	$(BIN)/python -m bench.sis_import
	$(BIN)/python -m bench.postgres
	$(BIN)/python -m bench.parts --db both
	$(BIN)/python -m bench.cd2
	$(BIN)/python -m bench.status_endpoint

migration: $(STAMP)
	$(BIN)/python scripts/regen_initial_migration.py
	$(BIN)/ruff format -q src/reportcard/db/migrations/versions
	$(BIN)/ruff check -q --fix src/reportcard/db/migrations/versions

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
