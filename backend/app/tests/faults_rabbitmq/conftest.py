"""The fault stack on RabbitMQ (127.0.0.1:5672) as the broker, in a virtual host of its
own: the API and beat reach the broker directly, the worker through a proxy of its own,
which a test freezes (SIGSTOP: nothing forwarded, nothing closed) to make the worker's
machine vanish without a word. A package apart from tests/faults, whose stack shares
the test database: the two stacks never run at once."""

from collections.abc import Iterator

import pytest
from sqlalchemy import make_url

from tests.support.environment import TEST_DATABASE_URL
from tests.support.fault_cases import healthy_stack, observe  # noqa: F401 (fixtures)
from tests.support.fault_stack import (
    STACK_SETTINGS,
    ProxyProcess,
    RedisServer,
    Stack,
    proxied_database_url,
)
from tests.support.ports import free_ports
from tests.support.rabbitmq import RABBITMQ_PORT, amqp_url, own_vhost

REDIS_PORT, WORKER_BROKER_PROXY_PORT, DATABASE_PROXY_PORT, API_PORT = free_ports(4)


@pytest.fixture(scope="package")
def stack(database: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with own_vhost("faults") as vhost:
        folder = tmp_path_factory.mktemp("rabbitmq-fault-stack")
        redis_server = RedisServer(REDIS_PORT, folder)
        redis_server.start()
        worker_broker_proxy = ProxyProcess(WORKER_BROKER_PROXY_PORT, RABBITMQ_PORT)
        database_proxy = ProxyProcess(DATABASE_PROXY_PORT, make_url(TEST_DATABASE_URL).port or 5432)
        env = {
            **STACK_SETTINGS,
            "DATABASE_URL": proxied_database_url(DATABASE_PROXY_PORT),
            "REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
            "CELERY_BROKER_URL": amqp_url(RABBITMQ_PORT, vhost),
        }
        running = Stack(
            env=env,
            api_url=f"http://127.0.0.1:{API_PORT}",
            redis=redis_server,
            database_proxy=database_proxy,
            broker_proxy=worker_broker_proxy,
            worker_env={"CELERY_BROKER_URL": amqp_url(WORKER_BROKER_PROXY_PORT, vhost)},
        )
        with running.running(API_PORT, folder):
            yield running
