# The two commands a new user needs: `make demo` and `make test`. Both create .venv when it
# is missing and (re)install the package when pyproject.toml changed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench notebook clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/mobset-campaign demo --out out

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check mobset_campaign tests benchmarks tools
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_client.py
	$(BIN)/python benchmarks/bench_contacts.py
	$(BIN)/python benchmarks/bench_send.py
	$(BIN)/python benchmarks/bench_ledger.py
	$(BIN)/python benchmarks/bench_export.py
	$(BIN)/python benchmarks/bench_campaign.py  # 30-40 minutes: 100k, 300k and 1M rows

notebook: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test,notebook]"
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache .hypothesis
