# Quick start: `make demo` and `make test` (each creates .venv on first use).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: demo test bench lint venv clean districts

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[test]"
	touch $(STAMP) $@

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/twin build lihu --out out/lihu
	$(BIN)/twin build liangxi --out out/liangxi
	$(BIN)/twin run scenarios/lihu_morning_peak.py --quick --overwrite

test: $(TEST_STAMP)
	$(BIN)/python -m pytest -n $(JOBS) -q tests

bench: $(TEST_STAMP)
	@set -e; for b in benchmarks/[!_]*.py; do \
	  echo "== $$b"; $(BIN)/python $$b --quick --json out/bench/$$(basename $$b .py).json; done

lint: $(TEST_STAMP)
	$(BIN)/ruff check cim twin agents tests benchmarks scenarios assets

districts: $(STAMP)
	$(BIN)/python -m assets.generate --all

clean:
	rm -rf $(VENV) out .pytest_cache
