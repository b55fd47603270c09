"""A private stack for fault injection (tests/support/fault_stack.py): its own Redis
server, a real uvicorn API, a worker and beat, with PostgreSQL and the broker reached
through TCP proxies that a test can cut and restore.

Every fault test gets the running stack; each starts from a live worker, open proxies
and an empty hot state, whatever the test before it broke (tests/support/fault_cases.py).
The RabbitMQ variant is tests/faults_rabbitmq/: a package of its own, so that its stack
and this one, which share the test database, never run at once.
"""

from collections.abc import Iterator

import pytest
from sqlalchemy import make_url

from tests.support.environment import TEST_DATABASE_URL
from tests.support.fault_cases import healthy_stack, observe  # noqa: F401 (fixtures)
from tests.support.fault_stack import (
    API_PORT,
    BROKER_PROXY_PORT,
    DATABASE_PROXY_PORT,
    REDIS_PORT,
    STACK_SETTINGS,
    ProxyProcess,
    RedisServer,
    Stack,
    proxied_database_url,
)


@pytest.fixture(scope="package")
def stack(database: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("fault-stack")
    redis_server = RedisServer(REDIS_PORT, folder)
    redis_server.start()
    broker_proxy = ProxyProcess(BROKER_PROXY_PORT, REDIS_PORT)
    database_proxy = ProxyProcess(DATABASE_PROXY_PORT, make_url(TEST_DATABASE_URL).port or 5432)
    env = {
        **STACK_SETTINGS,
        "DATABASE_URL": proxied_database_url(),
        "REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{BROKER_PROXY_PORT}/1",
    }
    running = Stack(
        env=env,
        api_url=f"http://127.0.0.1:{API_PORT}",
        redis=redis_server,
        database_proxy=database_proxy,
        broker_proxy=broker_proxy,
    )
    with running.running(API_PORT, folder):
        yield running
