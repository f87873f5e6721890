# Two commands do all set-up on a fresh machine (see README): `make reports` and `make test`.
# Both are idempotent: set-up steps are skipped when their stamp file is newer than their inputs.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.stamp
PROFILE ?= default
JOBS   ?=
REPORT_ARGS ?=

.PHONY: reports test setup data browser lint layering bench clean-reports help mutation

help:
	@echo "make reports   regenerate every report (reports/$(PROFILE)/index.html)"
	@echo "make test      run the test suite"
	@echo "make lint      ruff check"
	@echo "make bench     measurement benchmarks (latency stability, ours-vs-reference)"

# --- set-up -----------------------------------------------------------------------------------
$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,ray]'
	$(PY) -m ipykernel install --sys-prefix --name workbench --display-name "Python (workbench)" >/dev/null
	touch $(STAMP)

setup: $(STAMP)

data: setup
	$(VENV)/bin/workbench data fetch fashion-mnist

# Headless Chromium for the browser test of the HTML reports (Debian packages).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium for the browser test"; \
	  (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || \
	  (sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null) || \
	  echo "WARNING: could not install chromium; browser tests will be skipped"; }

# --- the two commands ---------------------------------------------------------------------------
reports: data
	$(VENV)/bin/workbench report --profile $(PROFILE) $(if $(JOBS),--jobs $(JOBS)) $(REPORT_ARGS)

test: data browser layering
	$(VENV)/bin/python -m pytest

# The layering contract of pyproject.toml ([tool.importlinter]): no import runs from a lower layer up.
layering: setup
	$(VENV)/bin/lint-imports

# --- extras -------------------------------------------------------------------------------------
lint: setup
	$(VENV)/bin/ruff check workbench tests

bench: setup
	$(VENV)/bin/workbench bench latency

# Mutation testing (mutmut; not part of `make test`): mutates measure/macs.py, measure/latency.py
# and models/fingerprint.py and runs the tests listed in [tool.mutmut] of pyproject.toml.
# Survivors: `$(VENV)/bin/mutmut results`, one diff: `$(VENV)/bin/mutmut show NAME`.
mutation: setup
	rm -rf mutants
	$(VENV)/bin/mutmut run --max-children 2
	$(VENV)/bin/mutmut results

clean-reports:
	rm -rf reports/smoke reports/default reports/full reports/.staging-*
