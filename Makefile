# Set-up is part of every target: a fresh machine with Python 3.11, Java 17 and Maven
# needs nothing else than `make demo` or `make test`.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup jars lint test test-fast demo demo-challenger bench clean

setup: $(STAMP) jars

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

jars: $(STAMP)
	$(BIN)/wxstream kafka fetch

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

test: setup lint
	$(BIN)/pytest

demo: setup
	$(BIN)/wxstream demo

demo-challenger: setup
	$(BIN)/wxstream demo --challenger

bench: setup
	$(BIN)/wxstream bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
