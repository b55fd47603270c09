"""The Redis broker transport: kombu's, keeping its connection settings once released.

On a lost broker connection, Celery 5.7.0's worker collects the connection and then
closes it. Collecting releases the transport (kombu sets its `client`, where the
connection settings live, to None), yet the channel it could not close (a broker that
went silent times out the channel's pending BRPOP read) and the messages the worker is
still running keep using it: the second close hands back unacknowledged messages, and a
job that ends acknowledges its message, each through a new Redis connection built from
`client`. Without it they raise AttributeError, which Celery takes for an unrecoverable
error: the worker exits (tests/faults/test_broker_down.py). With it they reach the
broker, or fail with a connection error that Celery expects and passes over.
"""

from kombu import Connection
from kombu.transport import redis


def transport_for(broker_url: str) -> str | None:
    """Celery's broker_transport for this broker: this module's for Redis over TCP,
    else the one the URL's scheme names."""
    if broker_url.startswith(("redis://", "rediss://")):
        return f"{__name__}:Transport"
    return None


class Transport(redis.Transport):
    _client: Connection | None = None

    @property
    def client(self) -> Connection | None:
        return self._client

    @client.setter
    def client(self, connection: Connection | None) -> None:
        if connection is not None:
            self._client = connection
