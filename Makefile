# Qianliyan: `make run` starts the platform with demo data, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.lock | cksum | cut -d' ' -f1)
NODE_STAMP := node_modules/.installed-$(shell cat package-lock.json 2>/dev/null | cksum | cut -d' ' -f1)
LOAD_VENV := .venv-load
LOAD_STAMP := $(LOAD_VENV)/.installed-$(shell cat requirements-load.lock | cksum | cut -d' ' -f1)
LOAD_DURATION ?= 60
PYTEST_ARGS ?=

.PHONY: run test venv venv-load node lint lock bench load clean

run: venv node
	$(PY) -m services.launcher

test: venv venv-load node
	$(PY) -m pytest $(PYTEST_ARGS)

venv: $(STAMP)

$(STAMP): requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.lock
	@rm -f $(VENV)/.installed-* && touch $@

# Front-end assets and the zbctl test client come from the npm registry, pinned by package-lock.json.
node: $(NODE_STAMP)

$(NODE_STAMP): package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --loglevel=error && rm -f node_modules/.installed-* && touch $@; \
	else echo "npm not found: web assets and zbctl tests are unavailable" >&2; fi

lint: venv
	$(VENV)/bin/ruff check .

lock: venv
	$(VENV)/bin/pip-compile -q --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links -o requirements.lock requirements.in
	$(VENV)/bin/pip-compile -q --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links -o requirements-load.lock requirements-load.in

bench: venv
	$(PY) load/bench_engine.py

# Locust monkey-patches the process with gevent, so it lives in a venv of its own that the main one never imports.
venv-load: $(LOAD_STAMP)

$(LOAD_STAMP): requirements-load.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	@test -x $(LOAD_VENV)/bin/python || $(PYTHON) -m venv $(LOAD_VENV)
	$(LOAD_VENV)/bin/python -m pip install -q --disable-pip-version-check -r requirements-load.lock
	@rm -f $(LOAD_VENV)/.installed-* && touch $@

# The engine suite, then the city suite, each headless for LOAD_DURATION seconds; reports in load/reports/.
load: venv venv-load
	LOAD_DURATION=$(LOAD_DURATION) $(PY) load/run.py

clean:
	rm -rf data test-output
