# The two commands of the README: `make run` and `make test`. Both create the
# virtual environment they need with nothing but Python 3.11+ installed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run cli test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# Logs for a person at a terminal, unless SFA_LOG_FORMAT says otherwise.
run: $(STAMP)
	SFA_LOG_FORMAT=$${SFA_LOG_FORMAT:-text} $(BIN)/secureflaskauth serve

# The command line on the database of `make run`: make cli ARGS="users list"
ARGS ?= --help
cli: $(STAMP)
	$(BIN)/secureflaskauth $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
