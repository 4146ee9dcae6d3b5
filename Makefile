# Two commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test lint emulator clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $@

demo: $(VENV)/.installed
	$(PY) examples/quickstart.py

test: $(VENV)/.installed
	$(PY) -m pytest -q

# lint tools pinned, so that a new release cannot turn CI red overnight
LINT_TOOLS := ruff==0.17.6 mypy==2.4.1

lint: $(VENV)/.installed
	$(PY) -m pip install -q $(LINT_TOOLS)
	$(VENV)/bin/ruff check --select F,E9 domestic_llm langchain_domestic_llm llamaindex_domestic_llm tests examples
	$(VENV)/bin/mypy domestic_llm langchain_domestic_llm llamaindex_domestic_llm --ignore-missing-imports
	$(PY) tools/check_sizes.py

emulator: $(VENV)/.installed
	$(PY) -m domestic_llm.testing --port 8000

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
