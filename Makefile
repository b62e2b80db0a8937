# The two commands of the README: `make run` and `make test`. Both create the
# virtual environment they need with nothing but Python 3.11+ installed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run cli test lint typecheck deps lock unit bench bench-scale clean translations screenshots

# Every package at the version and hash uv.lock pins (uv itself pinned here): the
# service with the sns extra, and the dev group of pyproject.toml for the tests.
UV_VERSION := 0.13.9
UV := $(BIN)/uv
# uv trusts the system's certificates, as pip does (a proxy's CA where there is one).
export UV_SYSTEM_CERTS ?= 1

$(STAMP): pyproject.toml uv.lock Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(UV) sync --quiet --frozen --inexact --extra sns --compile-bytecode
	@touch $(STAMP)

# Refresh uv.lock to the newest versions pyproject.toml allows (then run make test).
lock: $(STAMP)
	$(UV) lock --upgrade

# Every module compiled once, ahead of time: where PYTHONDONTWRITEBYTECODE is set (as in
# many CI and container images), Python would compile each one again in every process it
# starts (about 4 s more for each server start on a small machine). The dependencies are
# compiled by `uv sync --compile-bytecode` above, the service's own modules here (only
# those changed since, which takes a fraction of a second). A prerequisite of every
# target that starts the service or its tests.
.PHONY: bytecode
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q src

# Logs for a person at a terminal, unless SFA_LOG_FORMAT says otherwise.
run: bytecode
	SFA_LOG_FORMAT=$${SFA_LOG_FORMAT:-text} $(BIN)/secureflaskauth serve

# The command line on the database of `make run`: make cli ARGS="users list"
ARGS ?= --help
cli: bytecode
	$(BIN)/secureflaskauth $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples

typecheck: $(STAMP)
	$(BIN)/mypy

# Every import is a declared dependency and every dependency is imported (deptry).
deps: $(STAMP)
	$(BIN)/deptry src

# The suite in one process more than the machine has cores (tests/conftest.py; at most 4),
# a module's tests in one process (pytest-xdist's loadscope), so a module's servers start
# once; the longest modules first (tests/conftest.py, LONGEST_FIRST), not the ones with
# the most tests (xdist's default order).
# PYTEST_ARGS="-n 0" runs it in one process.
test: lint typecheck deps bytecode
	$(BIN)/python -m pytest --numprocesses auto --maxprocesses 4 --dist loadscope \
	  --no-loadscope-reorder $(PYTEST_ARGS)

# The hosted pages' messages: extracted from the code and the templates, each language's
# catalogue (.po) updated, then compiled (.mo). Both are committed: the package, `make run`
# and the Docker image use the compiled files, and a test checks they match the sources.
WEB := src/secureflaskauth/web
translations: $(STAMP)
	cd $(WEB) && $(CURDIR)/$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext \
	  -k ngettext:1,2 --add-location=file --sort-output --no-wrap \
	  --project=secureflaskauth -o translations/messages.pot .
	$(BIN)/pybabel update -i $(WEB)/translations/messages.pot -d $(WEB)/translations \
	  --no-wrap --no-fuzzy-matching
	$(BIN)/pybabel compile -d $(WEB)/translations --statistics

# The README's pictures of the pages (docs/screenshots), taken in chromium.
screenshots: $(STAMP)
	$(BIN)/python -m tests.browser.screenshots

bench: bytecode
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# A million users on the PostgreSQL server (a database of its own, dropped after);
# about 20 minutes with its 10-minute memory soak.
bench-scale: bytecode
	$(BIN)/python -m bench.scale $(BENCH_ARGS)

# The administration commands on a million users (a database of its own, dropped
# after); about 10 minutes, most of it writing the users.
.PHONY: bench-admin
bench-admin: bytecode
	$(BIN)/python -m bench.admin $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
