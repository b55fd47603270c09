# The worker image: the backend image's contents, run as an unprivileged user, because
# it runs tools on user-supplied inputs. Build context: the repository root.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    POETRY_VIRTUALENVS_CREATE=false

RUN pip install "poetry==2.2.1" \
    && useradd --create-home --uid 1000 tooljobs

WORKDIR /app

COPY backend/app/pyproject.toml backend/app/poetry.lock /app/
RUN poetry install --only main --no-root --no-interaction

COPY backend/app /app
RUN poetry install --only main --no-interaction \
    && mkdir -p /app/storage && chown tooljobs /app/storage

USER tooljobs

CMD ["celery", "-A", "app.core.celery_app", "worker", "--loglevel", "INFO"]
