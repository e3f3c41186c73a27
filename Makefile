# `make demo` and `make test` each do all of their own set-up in .venv/.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check

.PHONY: demo test check lint model quick-model clean broker

# The MQTT tests run a real Mosquitto; install it from Debian when missing (CI runs as root).
broker:
	@command -v mosquitto >/dev/null 2>&1 || test -x /usr/sbin/mosquitto || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto mosquitto-clients >/dev/null; } || \
		echo "warning: could not install mosquitto; the MQTT tests will install it or skip"

$(VENV)/.runtime: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q . ./tools
	touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(PIP) install -q '.[export,dev]' './tools[bench]'
	touch $@

demo: $(VENV)/.runtime
	$(PIP) install -q --no-deps --force-reinstall . ./tools >/dev/null
	cd /tmp && $(CURDIR)/$(VENV)/bin/edge-nlu demo

lint: $(VENV)/.dev
	$(PY) -m ruff check edge_nlu tools export tests benchmarks
	$(PY) -m mypy
	PYTHONPATH=$(CURDIR):$(CURDIR)/tools $(VENV)/bin/lint-imports --no-cache

test: $(VENV)/.dev broker
	$(PIP) install -q --no-deps --force-reinstall . ./tools >/dev/null
	$(PY) -m ruff check edge_nlu tools export tests benchmarks
	$(PY) -m mypy
	PYTHONPATH=$(CURDIR):$(CURDIR)/tools $(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest -q

# The inner loop: lint, types and the `unit` tier (no broker, no model build, no whole-program runs).
check: $(VENV)/.dev
	$(PY) -m ruff check edge_nlu tools export tests benchmarks
	$(PY) -m mypy
	PYTHONPATH=$(CURDIR):$(CURDIR)/tools $(VENV)/bin/lint-imports --no-cache
	PYTHONPATH=$(CURDIR):$(CURDIR)/tools $(PY) -m pytest -q -m unit

# The full model build (about 30-40 min on 2 cores); its int8 output is committed.
model: $(VENV)/.dev
	$(PY) -m export build --out models/home

quick-model: $(VENV)/.dev
	$(PY) -m export build --quick --out /tmp/edge-nlu-quick

clean:
	rm -rf $(VENV) build *.egg-info
