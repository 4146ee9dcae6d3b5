# Two commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test lint emulator bench clean llamacpp

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $@

demo: $(VENV)/.installed
	@if [ "$$DOMESTIC_LLM_DEMO" = real ]; then $(PY) -m domestic_llm.testing.llamacpp install --require; fi
	$(PY) examples/quickstart.py

test: $(VENV)/.installed llamacpp
	$(PY) -m pytest -q

# lint tools pinned, so that a new release cannot turn CI red overnight
LINT_TOOLS := ruff==0.17.6 mypy==2.4.1

# The real test server (llama.cpp + SmolLM2-135M): built once per machine into ~/.cache/domestic-llm,
# installed into the venv; a second of checking when it is already there.
llamacpp: $(VENV)/.installed
	$(PY) -m domestic_llm.testing.llamacpp install

lint: $(VENV)/.installed
	$(PY) -m pip install -q $(LINT_TOOLS)
	$(VENV)/bin/ruff check --select F,E9 domestic_llm langchain_domestic_llm llamaindex_domestic_llm tests examples
	$(VENV)/bin/mypy domestic_llm langchain_domestic_llm llamaindex_domestic_llm tests/typed_usage.py --ignore-missing-imports
	$(PY) tools/check_sizes.py

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
