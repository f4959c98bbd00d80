# Two commands: `make run` serves the app, `make test` runs the checks. Both set up a fresh Debian
# machine with Python 3.11 (venv, pip requirements, redis-server and, for tests, chromium, espeak-ng and
# Node for the JavaScript tests).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
REDIS_PORT ?= 6390
# Daphne processes behind HAProxy on PORT (scripts/web.sh, scripts/proxy.sh); 1 = Daphne alone on PORT.
# The default is what bench/ingest.py measured better on a 2-core box (bench/README.md "Ingest").
WEB_PROCESSES ?= 1
export DJANGO_SETTINGS_MODULE ?= undertone_web.settings.base

.PHONY: run test js-test venv deps system-run system-test secrets migrate lint format migrations-check redis-test bench clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || PYTHON=python3; $${PYTHON:-$(PYTHON)} -m venv $(VENV) 2>/dev/null || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.deps: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.deps

# apt-get only when a tool is missing; as non-root we say what to install instead of failing obscurely.
system-run:
	@bash scripts/apt-ensure.sh redis-server:redis-server haproxy:haproxy

system-test:
	@bash scripts/apt-ensure.sh redis-server:redis-server haproxy:haproxy chromium:chromium espeak-ng:espeak-ng sox:sox fonts-dejavu-core:/usr/share/fonts/truetype/dejavu nodejs:node

secrets:
	@bash scripts/make-secrets.sh

migrate: venv secrets
	@mkdir -p var/staticfiles
	$(BIN)/python manage.py migrate --noinput

run: system-run venv secrets migrate
	@echo ""
	@echo "  Undertone is starting on http://127.0.0.1:$(PORT)  (Ctrl-C stops everything)"
	@echo ""
	@# The language model's worker (its own queue) only when a model server is configured.
	@llm=$$([ -n "$$RECAP_LLM_URL" ] && echo llm); \
	if [ -z "$$REDIS_URL" ]; then \
	  REDIS_URL=redis://127.0.0.1:$(REDIS_PORT)/0 WEB_PORT=$(PORT) REDIS_PORT=$(REDIS_PORT) \
	    WEB_PROCESSES=$(WEB_PROCESSES) $(BIN)/honcho start -f Procfile redis web proxy worker $$llm; \
	else \
	  WEB_PORT=$(PORT) WEB_PROCESSES=$(WEB_PROCESSES) $(BIN)/honcho start -f Procfile web proxy worker $$llm; \
	fi

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrations-check: venv
	@mkdir -p var
	DJANGO_SETTINGS_MODULE=undertone_web.settings.test $(BIN)/python manage.py makemigrations --check --dry-run

# The tests start their own Redis (persistence off) on a free port unless REDIS_URL is given.
test: system-test venv lint migrations-check
	bash scripts/run-js-tests.sh
	bash scripts/run-tests.sh

js-test: system-test
	bash scripts/run-js-tests.sh

bench: venv
	@echo "see bench/README.md"

clean:
	rm -rf $(VENV) var/staticfiles var/test-db.sqlite3*
