"""RabbitMQ as the broker in tests: the machine's server on 127.0.0.1:5672
(scripts/ensure-services.sh starts it), in a virtual host of each test process's own,
so that runs side by side (xdist workers too) never share a queue."""

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

RABBITMQ_PORT = 5672


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True)


def amqp_url(port: int, vhost: str) -> str:
    return f"amqp://guest:guest@127.0.0.1:{port}/{vhost}"


@contextmanager
def own_vhost(purpose: str) -> Iterator[str]:
    """A virtual host for this process, made now and deleted at the end."""
    vhost = f"tooljobs-{purpose}-{os.getpid()}"
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield vhost
    finally:
        rabbitmqctl("delete_vhost", vhost)


def queue_depths(vhost: str) -> dict[str, int]:
    """Every queue of the virtual host, with the messages it holds."""
    listing = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "-p", vhost, "--no-table-headers", "name", "messages"],
        check=True,
        capture_output=True,
        text=True,
    )
    rows = (line.split("\t") for line in listing.stdout.splitlines() if line.strip())
    return {name: int(count) for name, count in rows}
