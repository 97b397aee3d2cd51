# MiniRAG: `make run` sets everything up and starts web, worker and beat; `make test` sets up and runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements.stamp

.PHONY: run test doctor lint format bench clean-var help

help:
	@echo "make run    - set up (venv, deps, database, broker, migrations, demo tenant), start web + worker + beat"
	@echo "make test   - set up and run the whole test suite (embedded PostgreSQL with pgvector, embedded Redis)"
	@echo "make doctor - check the configuration and the running services (works next to make run)"
	@echo "make lint   - ruff and the import contracts (import-linter, .importlinter)"
	@echo "make bench  - run the benchmarks in bench/"

$(PY):
	$(PYTHON) -m venv $(VENV)

# requirements-dev.txt includes requirements.txt (the runtime, all the Docker image installs) and adds the tools.
$(STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q --upgrade pip
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m minirag.launcher run

test: $(STAMP)
	$(PY) -m minirag.launcher test $(PYTEST_ARGS)

doctor: $(STAMP)
	$(PY) manage.py doctor

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports  # the import contracts in .importlinter (layers, foundation, integrations)

format: $(STAMP)
	$(VENV)/bin/ruff format .

bench: $(STAMP)
	@for script in bench/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean-var:
	rm -rf var/
