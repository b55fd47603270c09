# The API image; prestart, beat and flower run it too. Build context: the repository root,
# so that prestart.sh (beside backend/) is reachable.
FROM python:3.11-slim

# No virtualenv inside the image: Poetry installs into the image's own Python, so the
# `tooljobs`, `alembic`, `uvicorn` and `celery` commands are on PATH for every service.
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    POETRY_VIRTUALENVS_CREATE=false

# The same unprivileged user (uid 1000) as the worker image: API and worker share the
# storage volume, and each must be able to delete what the other wrote there.
RUN pip install "poetry==2.2.1" \
    && useradd --create-home --uid 1000 tooljobs

WORKDIR /app

# Dependencies first: this layer is rebuilt only when the lock file changes.
COPY backend/app/pyproject.toml backend/app/poetry.lock /app/
# The client (tooljobs-client), a path dependency at ../../client from /app: it owns the
# `tooljobs` command that prestart.sh and `docker compose exec backend tooljobs ...` run.
COPY client /client
# Compiled to bytecode here: the processes run as a user who cannot write it there, and
# would otherwise compile every module again each time they start.
RUN poetry install --only main --no-root --no-interaction --no-cache --compile

# prestart.sh lives outside /app, which the development override mounts the code over.
COPY prestart.sh /usr/local/bin/prestart.sh
COPY backend/app /app
# The package itself, with its `tooljobs` command (installed as a path to /app, so the
# mounted code is the code that runs). The storage folder is owned by the user so that a
# new volume mounted there is too; alembic/versions so that
# `docker compose exec backend alembic revision --autogenerate` can write its file.
RUN poetry install --only main --no-interaction --no-cache \
    && mkdir -p /var/lib/tooljobs/storage \
    && chown tooljobs /var/lib/tooljobs/storage /app/alembic/versions

USER 1000

# WORKDIR /app holds alembic.ini: `docker compose exec backend alembic upgrade head` works as is.
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000"]
