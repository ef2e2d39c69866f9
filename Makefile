# Two commands set everything up on a fresh machine:
#   make lab    create .venv if needed, install, open JupyterLab on the course
#   make test   create .venv if needed, install, run the whole test suite
# and one for a class (as root): make hub / make hub-stop / make hub-add-student NAME=...
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.w2s-installed
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json
PROXY := $(VENV)/node/node_modules/.bin/configurable-http-proxy
PROXY_VERSION := 5.3.0
LAB_ARGS := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test test-fast venv system-deps release benchmarks clean hub hub-stop hub-add-student

venv: $(STAMP) $(LAB_SETTINGS)

# The venv is (re)built when it is missing, when its interpreter no longer runs (stale), or
# when the dependency list changed. torch is installed first and pinned exactly so that pip
# takes the local CPU wheel instead of resolving a CUDA build.
$(STAMP): pyproject.toml
	@if ! $(PY) -c 'import sys' >/dev/null 2>&1; then \
	    echo "Creating $(VENV) with $$($(PYTHON) --version)"; \
	    rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); \
	fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# The course's JupyterLab settings (no news pop-up, no update check: nothing in the course
# reaches out to the internet), installed where this venv's JupyterLab reads its overrides.
$(LAB_SETTINGS): lab-settings/overrides.json $(STAMP)
	@mkdir -p $(dir $@) && cp $< $@

# Debian packages the tests need: bubblewrap (the grader's sandbox), chromium (the
# browser tests), npm (installs the hub's configurable-http-proxy) and acl (lets the hub's
# users reach a Python under a private folder, hub/README.md). Installed only when
# missing, and only where we are root.
system-deps:
	@missing=""; \
	command -v bwrap >/dev/null 2>&1 || missing="$$missing bubblewrap"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	command -v setfacl >/dev/null 2>&1 || missing="$$missing acl"; \
	if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ]; then \
	        echo "Installing Debian packages:$$missing"; \
	        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	            || echo "warning: could not install$$missing; the tests that need them will say so"; \
	    else \
	        echo "warning: not root, cannot install$$missing; the tests that need them will say so"; \
	    fi; \
	fi

# The venv's bin/ goes first on PATH: nbgrader (Formgrader, Validate) runs tools such as
# `alembic` by name, and a notebook's `!pip` or `!w2s` should be the course's.
lab: $(STAMP) $(LAB_SETTINGS)
	@mkdir -p nbgrader_exchange
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/jupyter lab $(LAB_ARGS) --notebook-dir=. lessons/01-the-weak-to-strong-setup.ipynb

# Two pytest-xdist workers at most (one torch thread each; the grading tests run their own
# pool of two), tests that share a fixture or need the whole machine kept together on one
# worker and the longest started first (tests/conftest.py), and the ten slowest tests
# listed at the end.
PYTEST_PARALLEL := -n auto --maxprocesses=2 --dist loadscope --no-loadscope-reorder

test: $(STAMP) $(LAB_SETTINGS) system-deps $(PROXY)
	$(VENV)/bin/python -m pytest $(PYTEST_PARALLEL) --durations=10

# The quick tests only (no notebooks, no browser, no fresh clone): for the edit-test loop.
test-fast: $(STAMP) $(LAB_SETTINGS)
	$(VENV)/bin/python -m pytest -m "not slow" $(PYTEST_PARALLEL) --durations=10

release: $(STAMP)
	$(VENV)/bin/w2s release

# Every script in benchmarks/, one after another; each prints its own table (minutes in all).
BENCHMARKS := $(sort $(wildcard benchmarks/*.py))
benchmarks: $(STAMP)
	@set -e; for script in $(BENCHMARKS); do echo "== $$script"; $(PY) $$script; done

# The course on JupyterHub (hub/README.md): accounts from ROSTER, the nbgrader exchange and
# the formgrader, on http://127.0.0.1:$(HUB_PORT). Needs root. The proxy between the hub and
# the users' servers is npm's configurable-http-proxy, installed inside .venv.
HUB_PORT ?= 8000
ROSTER ?= hub/roster.csv

$(PROXY):
	@command -v npm >/dev/null 2>&1 || $(MAKE) --no-print-directory system-deps
	@mkdir -p $(VENV)/node
	npm install --prefix $(VENV)/node --no-audit --no-fund --silent configurable-http-proxy@$(PROXY_VERSION)

hub: $(STAMP) $(LAB_SETTINGS) system-deps $(PROXY)
	$(PY) hub/manage.py up --roster $(ROSTER) --port $(HUB_PORT)

hub-stop: $(STAMP)
	$(PY) hub/manage.py down

hub-add-student: $(STAMP)
	@test -n "$(NAME)" || { echo "usage: make hub-add-student NAME=w2s-carol [ROSTER=hub/roster.csv]"; exit 2; }
	$(PY) hub/manage.py add-student $(NAME) --roster $(ROSTER)

clean:
	rm -rf $(VENV) .pytest_cache gradebook.db
