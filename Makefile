# Quick start: `make demo` and `make test` (each creates .venv on first use).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: demo test bench bench-ci baseline lint venv clean districts

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

# Quick benchmarks (every benchmarks/NAME.py --quick --json out/bench/NAME.json), then
# out/bench/REPORT.md (each figure, its baseline, the peer's number) and the regression gate
# against benchmarks/baseline.json: exits non-zero when a benchmark crashes or a gated figure
# regresses. bench-ci runs only the baseline's CI benchmarks (what .ci/run does).
GATE := $(BIN)/python benchmarks/_gate.py

bench: $(TEST_STAMP)
	@rc=0; $(GATE) run || rc=1; $(GATE) report; $(GATE) check || rc=1; exit $$rc

bench-ci: $(TEST_STAMP)
	@rc=0; $(GATE) run --ci || rc=1; $(GATE) report; $(GATE) check || rc=1; exit $$rc

# Rewrite benchmarks/baseline.json from fresh quick runs (the median of BASELINE_RUNS runs of
# every benchmark; tolerances kept): review the diff and commit it; that commit is the
# explicit decision to accept the new figures.
BASELINE_RUNS ?= 3
baseline: $(TEST_STAMP)
	@set -e; for i in $$(seq $(BASELINE_RUNS)); do $(GATE) run --out out/bench/base$$i; done; \
	$(GATE) update $$(for i in $$(seq $(BASELINE_RUNS)); do echo --out out/bench/base$$i; done)
	$(GATE) report --out out/bench/base1

lint: $(TEST_STAMP)
	$(BIN)/ruff check cim twin agents tests benchmarks scenarios assets

districts: $(STAMP)
	$(BIN)/python -m assets.generate --all

clean:
	rm -rf $(VENV) out .pytest_cache
