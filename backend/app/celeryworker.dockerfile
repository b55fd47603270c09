# The worker image: the backend image's contents and user. It is a file of its own so
# that a tool's system packages (apt-get install ...) go into the worker only; compose
# cannot build one image FROM another reliably. Build context: the repository root.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    POETRY_VIRTUALENVS_CREATE=false

# Never root: the worker runs tools on user-supplied inputs. uid 1000 as in the backend
# image, because both write to and delete from the shared storage volume.
RUN pip install "poetry==2.2.1" \
    && useradd --create-home --uid 1000 tooljobs

WORKDIR /app

COPY backend/app/pyproject.toml backend/app/poetry.lock /app/
RUN poetry install --only main --no-root --no-interaction --no-cache

COPY backend/app /app
RUN poetry install --only main --no-interaction --no-cache \
    && mkdir -p /app/storage \
    && chown tooljobs /app/storage

USER tooljobs

CMD ["celery", "-A", "app.core.celery_app", "worker", "--loglevel", "INFO", "--queues", "default"]
