# The API image, also used by prestart, beat and flower. Build context: the repository root.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    POETRY_VIRTUALENVS_CREATE=false

RUN pip install "poetry==2.2.1"

WORKDIR /app

# Dependencies first: this layer is rebuilt only when the lock file changes.
COPY backend/app/pyproject.toml backend/app/poetry.lock /app/
RUN poetry install --only main --no-root --no-interaction

COPY backend/app /app
COPY prestart.sh /app/prestart.sh
# Installs the package itself, with its `tooljobs` command.
RUN poetry install --only main --no-interaction

# alembic.ini lives here, so `docker compose exec backend alembic ...` works as is.
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000"]
