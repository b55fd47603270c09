# The worker image: the backend image's contents and user, plus the programs the tools
# run. It is a file of its own so that those system packages go into the worker only;
# compose cannot build one image FROM another reliably. Build context: the repository root.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    POETRY_VIRTUALENVS_CREATE=false

# The tools' system packages (Debian names, space separated), from TOOL_APT_PACKAGES in
# .env: `docker compose build worker` installs them. TOOLS.md, "System dependencies".
ARG TOOL_APT_PACKAGES=""
# The operator names the packages, and pins them (name=version) where it matters.
# hadolint ignore=DL3008
RUN if [ -n "$TOOL_APT_PACKAGES" ]; then \
        apt-get update \
        && apt-get install -y --no-install-recommends $TOOL_APT_PACKAGES \
        && rm -rf /var/lib/apt/lists/*; \
    fi

# Never root: the worker runs tools on user-supplied inputs. uid 1000 as in the backend
# image, because both write to and delete from the shared storage volume.
RUN pip install "poetry==2.2.1" \
    && useradd --create-home --uid 1000 tooljobs

WORKDIR /app

COPY backend/app/pyproject.toml backend/app/poetry.lock /app/
# The client (tooljobs-client), a path dependency at ../../client from /app: it owns the
# `tooljobs` command that prestart.sh and `docker compose exec backend tooljobs ...` run.
COPY client /client
# Compiled to bytecode here: the processes run as a user who cannot write it there, and
# would otherwise compile every module again each time they start.
RUN poetry install --only main --no-root --no-interaction --no-cache --compile

COPY backend/app /app
RUN poetry install --only main --no-interaction --no-cache \
    && mkdir -p /var/lib/tooljobs/storage \
    && chown tooljobs /var/lib/tooljobs/storage

USER 1000

# Every queue of the installation (see docker-compose.yml's worker).
CMD ["celery", "-A", "app.core.celery_app", "worker", "--loglevel", "INFO"]
