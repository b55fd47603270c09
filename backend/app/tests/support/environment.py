"""The test settings, in the environment before the app is first imported.

Loaded as a pytest plugin (`-p tests.support.environment` in addopts), which pytest
imports before any conftest.py: the app reads its settings once, when
app.core.config is imported, and the workers, beat and API processes that the tests
start inherit this environment.

TEST_DATABASE_URL, TEST_REDIS and TEST_REDIS_DBS ("hot state db,broker db") let two
runs on one machine keep apart. Under pytest-xdist (`make test`) each worker process
keeps apart from the others the same way: worker N adds `_gwN` to the database's name
and counts its Redis databases down by 2N from the given ones.
"""

import os
import sys
import tempfile

from sqlalchemy import make_url

from tests.support.paths import PLUGINS_DIR

if "app.core.config" in sys.modules:
    raise RuntimeError(
        "the app read its settings before the test environment was set: "
        "run pytest with `-p tests.support.environment` (pyproject.toml's addopts)"
    )

TEST_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/tooljobs_test"
)
TEST_REDIS = os.environ.get("TEST_REDIS", "redis://127.0.0.1:6379")
TEST_REDIS_DBS = os.environ.get("TEST_REDIS_DBS", "15,14")
REDIS_DB, BROKER_DB = (int(db) for db in TEST_REDIS_DBS.split(","))

XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1, ...
if XDIST_WORKER is not None:
    worker_number = int(XDIST_WORKER.removeprefix("gw"))
    test_database = make_url(TEST_DATABASE_URL)
    TEST_DATABASE_URL = test_database.set(
        database=f"{test_database.database}_{XDIST_WORKER}"
    ).render_as_string(hide_password=False)
    REDIS_DB, BROKER_DB = REDIS_DB - 2 * worker_number, BROKER_DB - 2 * worker_number

os.environ.update(
    ENVIRONMENT="local",
    SECRET_KEY="test-secret-key-not-for-production",
    FIRST_SUPERUSER="admin@example.com",
    FIRST_SUPERUSER_PASSWORD="admin-password-for-tests",
    POSTGRES_PASSWORD="unused-by-tests",
    DATABASE_URL=TEST_DATABASE_URL,
    REDIS_URL=f"{TEST_REDIS}/{REDIS_DB}",
    CELERY_BROKER_URL=f"{TEST_REDIS}/{BROKER_DB}",
    STORAGE_DIR=tempfile.mkdtemp(prefix="tooljobs-test-storage-"),
    WEBHOOK_SECRET="webhook-secret-for-tests",
    # The webhook tests deliver to listeners on loopback, which the outbound policy
    # refuses unless allow-listed (tests/test_outbound.py runs without the list).
    OUTBOUND_ALLOWED_NETWORKS="127.0.0.0/8, ::1",
    CANCEL_GRACE_SECONDS="1",
    RETRY_BACKOFF_SECONDS="0.2",
    HEARTBEAT_INTERVAL_SECONDS="0.5",
    WORKER_LOST_AFTER_SECONDS="3",
    BACKEND_CORS_ORIGINS="http://ui.example.com, https://tools.example.org/",
)

# The test tools (stubborn, flaky) are installed like a tool package, by entry point,
# in this process and in the worker processes the suite starts.
sys.path.insert(0, str(PLUGINS_DIR))
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [str(PLUGINS_DIR), os.environ.get("PYTHONPATH")])
)
