# The two commands of the README: `make run` (embedded default) and `make test` (whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_URL ?= postgresql://postgres@127.0.0.1:5432/postgres

.PHONY: install lock run test test-browser screenshots lint lint-bpmn bench static

# Every dependency comes from requirements.lock (exact versions and hashes), so an upgrade is a reviewed change;
# the project itself goes in editable, with no dependency resolution of its own. `make lock` refreshes the lock.
$(BIN)/polku: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(BIN)/polku

install: $(BIN)/polku

# hds-core, htmx and bpmn-js from npm into webapp/static/vendor (Flask serves them; no CDN)
webapp/static/vendor/.built: package-lock.json scripts/build-static.sh
	bash scripts/build-static.sh

static: webapp/static/vendor/.built

lock:
	$(PYTHON) -m venv $(VENV)/pip-tools
	$(VENV)/pip-tools/bin/pip install --quiet 'pip-tools>=7.4,<8'
	$(VENV)/pip-tools/bin/pip-compile --quiet --extra test --generate-hashes --allow-unsafe --all-build-deps \
		--strip-extras --no-emit-index-url --no-emit-find-links -o requirements.lock pyproject.toml

run: install static
	$(BIN)/polku serve

lint: install
	$(BIN)/ruff check engine casework workers webapp polku tests bench
	$(BIN)/mypy

lint-bpmn:
	npm ci --no-audit --no-fund
	npx bpmnlint --config bpmn/.bpmnlintrc bpmn/*.bpmn

# The whole suite on SQLite (browser tests included: Debian's chromium, see .ci/run), then again on PostgreSQL
test: install static lint lint-bpmn
	$(BIN)/python -m pytest
	bash scripts/test-postgres.sh $(PG_URL)

test-browser: install static
	$(BIN)/python -m pytest -m browser tests/browser

# Refresh the README's pictures (docs/screenshots/) from the browser tests
screenshots: install static
	POLKU_SCREENSHOTS=docs $(BIN)/python -m pytest -m browser tests/browser

bench: install
	$(BIN)/python bench/transition.py
	$(BIN)/python bench/growth.py
	$(BIN)/python bench/workers.py --postgres $(PG_URL)
	$(BIN)/python bench/timers.py --postgres $(PG_URL)
	$(BIN)/python bench/scripts.py
	POLKU_BENCH_POSTGRES=$(PG_URL) $(BIN)/python bench/inbox.py
	POLKU_BENCH_POSTGRES=$(PG_URL) $(BIN)/python bench/casepage.py
	POLKU_BENCH_POSTGRES=$(PG_URL) $(BIN)/python bench/dashboard.py
