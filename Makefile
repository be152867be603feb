# The README's commands: `make run` (the connector on the embedded default) and `make test`.
VENV    ?= .venv
PY      := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install provision provision-browser check docs test test-topologies unit integration run bench bench-capacity bench-scaling emulator clean

install: $(VENV)/.installed

# The connector with its test extras, and the Resend emulator, a distribution of its own (emulator/):
# the integration tests, `make run`'s demo and `make emulator` run it; `pip install .` leaves it out.
$(VENV)/.installed: pyproject.toml emulator/pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e ./emulator -e '.[test]'
	touch $@

# Kafka jars from Maven Central (once, into .cache/) and Debian's redis-server when missing.
provision: install
	$(PY) -m connector.local provision

# The same, and Debian's chromium when missing: the console's browser tests drive it (no download).
provision-browser: install
	$(PY) -m connector.local provision --browser

check: install
	$(VENV)/bin/ruff format --check connector emulator tests docs/hooks
	$(VENV)/bin/ruff check connector emulator tests docs/hooks
	$(VENV)/bin/mypy --strict connector emulator/resend_emulator

# The documentation site (mkdocs.yml): docs/ with the README as its home page, into the git-ignored
# site/. --strict with mkdocs.yml's validation settings: a broken link or anchor, an absolute link or a
# page missing from the nav fails the build.
docs: $(VENV)/.docs-installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

$(VENV)/.docs-installed: $(VENV)/.installed
	$(VENV)/bin/pip install --quiet -e '.[docs]'
	touch $@

# The whole suite against real servers, which are started for the run and stopped whatever happens.
# The production-topology fault tests (three brokers, Sentinel, Redis Cluster; issue #27) start their
# own servers and take five to seven minutes: `make test-topologies`, which CI runs too.
test: provision-browser
	$(PY) -m connector.local exec -- $(PY) -m pytest -m "not topologies" $(PYTEST_ARGS)

test-topologies: provision
	nice -n 10 $(PY) -m connector.local exec -- $(PY) -m pytest -m topologies -s $(PYTEST_ARGS) \
		tests/integration/test_topologies.py tests/integration/test_topology_commands.py

unit: install
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

integration: provision-browser
	$(PY) -m connector.local exec -- $(PY) -m pytest tests/integration $(PYTEST_ARGS)

# With SETTINGS=file.yaml (or RESEND_CONNECTOR_* variables) it runs against that infrastructure;
# otherwise it starts Kafka, Redis and the Resend emulator locally and feeds them the sample events.
run: provision
ifneq ($(strip $(SETTINGS)),)
	$(VENV)/bin/resend-connector run --settings $(SETTINGS)
else
	@if env | grep -q '^RESEND_CONNECTOR_'; then $(VENV)/bin/resend-connector run; \
	else $(PY) -m connector.local demo; fi
endif

bench: provision
	$(PY) -m connector.local exec -- $(PY) -m tests.bench

# Issue #27: Redis memory per contact (CAPACITY_CONTACTS, default 1,000,000) and one vs two replicas.
bench-capacity: provision
	$(PY) -m connector.local exec -- $(PY) -m tests.bench_capacity

bench-scaling: provision
	$(PY) -m connector.local exec -- $(PY) -m tests.bench_scaling

emulator: install
	$(VENV)/bin/resend-connector emulator --port 8025

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache site
