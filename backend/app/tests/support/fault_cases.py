"""What every fault case gets, whichever its stack (imported by the conftest.py of
tests/faults and tests/faults_rabbitmq, each with its own `stack` fixture)."""

import time
from collections.abc import Callable, Iterator

import pytest

from tests.support.fault_stack import Stack


@pytest.fixture(autouse=True)
def healthy_stack(stack: Stack) -> Iterator[None]:
    """Each test starts from a whole stack and an empty hot state, and leaves one."""
    yield
    stack.database_proxy.restore()
    stack.broker_proxy.restore()
    if stack.redis.process is None:
        stack.redis.start()
    if stack.worker is None or stack.worker.poll() is not None:
        stack.start_worker()
    stack.redis.client(db=0).flushdb()


# What each case saw, shown at the end of the run (tests/conftest.py) for closing notes.
OBSERVED: list[str] = []


@pytest.fixture
def observe(request: pytest.FixtureRequest) -> Callable[[str], None]:
    started = time.monotonic()

    def record(what: str) -> None:
        OBSERVED.append(f"{request.node.name} ({time.monotonic() - started:.1f}s): {what}")

    return record
