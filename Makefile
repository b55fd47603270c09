# One command to run, one to test. Poetry is bootstrapped into .tools/ when missing.
SHELL := /bin/bash
PROJECT := backend/app
POETRY_VERSION := 2.2.1
POETRY := $(CURDIR)/.tools/bin/poetry
GENERATOR_VERSION := 0.29.1
BIN := $(CURDIR)/$(PROJECT)/.venv/bin

.PHONY: install run test lint services bench \
	migration upgrade downgrade shell psql console sql-log

# Compose v2; `make COMPOSE=docker-compose ...` for the older standalone command.
COMPOSE := docker compose

$(POETRY):
	python3 -m venv .tools
	.tools/bin/pip install --quiet "poetry==$(POETRY_VERSION)"

# A standard OpenAPI client generator, for the test that a generated client works. A
# tool in a venv of its own, not a dependency: it pins its own versions of typer & co.
GENERATOR := $(CURDIR)/.tools/generator/bin/openapi-python-client
$(GENERATOR):
	python3 -m venv .tools/generator
	.tools/generator/bin/pip install --quiet "openapi-python-client==$(GENERATOR_VERSION)"

# The `tooljobs` script is the client's (client/). A venv made while the server still
# installed it loses it when Poetry replaces the server's old install after the client's:
# put it back then.
# Compiled to bytecode once: where Python is told not to write it (PYTHONDONTWRITEBYTECODE),
# each process would compile every module it imports again, which halves how fast the
# API and the worker start (the tests start them a few hundred times).
install: $(POETRY)
	cd $(PROJECT) && $(POETRY) install --no-interaction --quiet
	test -x $(BIN)/tooljobs || $(BIN)/pip install --quiet --no-deps --force-reinstall -e client
	$(BIN)/python -m compileall -q -j 0 $(PROJECT)/.venv/lib $(PROJECT)/app client

## API on http://127.0.0.1:8000 with a worker and beat; PostgreSQL + Redis, or embedded.
run: install
	cd $(PROJECT) && $(BIN)/tooljobs run

## PostgreSQL, Redis and RabbitMQ answering on localhost (started or installed when needed).
services:
	bash scripts/ensure-services.sh

## The server (backend/app) and the client (client/), each with its own settings.
lint: install
	cd $(PROJECT) && $(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy \
		&& $(BIN)/lint-imports
	cd client && $(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

## Lint, types, layers, migrations in step with the models, then the whole suite.
test: install services lint $(GENERATOR)
	cd $(PROJECT) && scratch=$$(mktemp -d) \
		&& DATABASE_URL=sqlite:///$$scratch/check.db $(BIN)/alembic upgrade head \
		&& DATABASE_URL=sqlite:///$$scratch/check.db $(BIN)/alembic check \
		&& rm -rf $$scratch
	# Two processes share the tests (pytest-xdist); the fault suite runs afterwards on its
	# own, one stack at a time, as its time bounds assume.
	cd $(PROJECT) && $(BIN)/pytest -n 2 --ignore=tests/faults --ignore=tests/faults_rabbitmq \
		&& $(BIN)/pytest tests/faults tests/faults_rabbitmq

## tooljobs against a naive FastAPI+Celery peer (not part of test); needs wrk.
bench: install services
	command -v wrk >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk
	cd $(PROJECT) && $(BIN)/python ../../bench/run.py

# Chores in the compose stack (`docker compose up -d` first). Each target is the one
# compose command it prints; README, "Develop in the compose stack".

## A revision from the models: make migration m="add a column". Run as your own user,
## so that the file it writes into your checkout is yours.
migration:
	$(if $(m),,$(error name the revision: make migration m="add a column"))
	$(COMPOSE) exec --user "$$(id -u):$$(id -g)" backend alembic revision --autogenerate -m "$(m)"

## make upgrade [rev=<revision>], make downgrade [rev=<revision>]: head and one step back by default.
upgrade:
	$(COMPOSE) exec backend alembic upgrade $(or $(rev),head)

downgrade:
	$(COMPOSE) exec backend alembic downgrade $(or $(rev),-1)

shell:
	$(COMPOSE) exec backend bash

## psql on the application's database, as its owner.
psql:
	$(COMPOSE) exec db sh -c 'exec psql -U "$$POSTGRES_USER" -d "$$POSTGRES_DB"'

## Python with `session` open and every model imported.
console:
	$(COMPOSE) exec backend tooljobs console

## The API and the worker again, logging every SQL statement with its duration (Ctrl-C
## stops following; `docker compose up -d backend worker` turns the log off).
sql-log:
	LOG_SQL=true $(COMPOSE) up -d backend worker
	$(COMPOSE) logs --follow backend worker
