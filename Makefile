# One command to run, one to test. Poetry is bootstrapped into .tools/ when missing.
SHELL := /bin/bash
PROJECT := backend/app
POETRY_VERSION := 2.2.1
POETRY := $(CURDIR)/.tools/bin/poetry
BIN := $(CURDIR)/$(PROJECT)/.venv/bin

.PHONY: install run test lint services bench

$(POETRY):
	python3 -m venv .tools
	.tools/bin/pip install --quiet "poetry==$(POETRY_VERSION)"

install: $(POETRY)
	cd $(PROJECT) && $(POETRY) install --no-interaction --quiet

## API on http://127.0.0.1:8000 with a worker and beat; PostgreSQL + Redis, or embedded.
run: install
	cd $(PROJECT) && $(BIN)/tooljobs run

## PostgreSQL and Redis answering on localhost (started or installed when needed).
services:
	bash scripts/ensure-services.sh

lint: install
	cd $(PROJECT) && $(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy \
		&& $(BIN)/lint-imports

## Lint, types, layers, migrations in step with the models, then the whole suite.
test: install services lint
	cd $(PROJECT) && scratch=$$(mktemp -d) \
		&& DATABASE_URL=sqlite:///$$scratch/check.db $(BIN)/alembic upgrade head \
		&& DATABASE_URL=sqlite:///$$scratch/check.db $(BIN)/alembic check \
		&& rm -rf $$scratch
	cd $(PROJECT) && $(BIN)/pytest

## tooljobs against a naive FastAPI+Celery peer (not part of test); needs wrk.
bench: install services
	command -v wrk >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk
	cd $(PROJECT) && $(BIN)/python ../../bench/run.py
