# The two commands of the README: `make run` (embedded default) and `make test` (whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_URL ?= postgresql://postgres@127.0.0.1:5432/postgres

.PHONY: install run test lint lint-bpmn bench

$(BIN)/polku: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/polku

install: $(BIN)/polku

run: install
	$(BIN)/polku serve

lint: install
	$(BIN)/ruff check engine casework workers webapp polku tests bench

lint-bpmn:
	npm ci --no-audit --no-fund
	npx bpmnlint --config bpmn/.bpmnlintrc bpmn/*.bpmn

test: install lint lint-bpmn
	$(BIN)/python -m pytest
	bash scripts/test-postgres.sh $(PG_URL)

bench: install
	$(BIN)/python bench/transition.py
	$(BIN)/python bench/growth.py
	$(BIN)/python bench/workers.py --postgres $(PG_URL)
