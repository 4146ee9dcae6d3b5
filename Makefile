# Two commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test lint emulator bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $@

demo: $(VENV)/.installed
	$(PY) examples/quickstart.py

test: $(VENV)/.installed
	$(PY) -m pytest -q

lint: $(VENV)/.installed
	$(PY) -m pip install -q ruff mypy
	$(VENV)/bin/ruff check --select F,E9 domestic_llm langchain_domestic_llm llamaindex_domestic_llm tests examples
	$(VENV)/bin/mypy domestic_llm langchain_domestic_llm llamaindex_domestic_llm --ignore-missing-imports

# BENCHMARKS.md and benchmarks/charts/ from one run against the peers (installs the `bench` extra)
$(VENV)/.bench-installed: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install -q -e ".[bench]"
	touch $@

bench: $(VENV)/.bench-installed
	$(PY) -m benchmarks.bench

emulator: $(VENV)/.installed
	$(PY) -m domestic_llm.testing --port 8000

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
