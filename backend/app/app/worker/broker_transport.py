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

Its channel also builds one Redis client per connection pool, where kombu's built one
for every command it sends (each publish, each acknowledgement): a `redis.Redis` sets
up its table of some 170 reply callbacks when made (with the declaration below,
3.58 -> 3.28 ms of API CPU per single submit; README, Performance).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import redis as redis_py
from kombu import Connection
from kombu.transport import redis


def transport_for(broker_url: str) -> str | None:
    """Celery's broker_transport for this broker: this module's for Redis over TCP,
    else the one the URL's scheme names."""
    if broker_url.startswith(("redis://", "rediss://")):
        return f"{__name__}:Transport"
    return None


class Channel(redis.Channel):
    _client_of_pool: tuple[redis_py.ConnectionPool, redis_py.Redis] | None = None

    if TYPE_CHECKING:  # kombu's, which its type hints leave out

        def _create_client(self, asynchronous: bool = False) -> redis_py.Redis: ...

    @contextmanager
    def conn_or_acquire(self, client: redis_py.Redis | None = None) -> Iterator[redis_py.Redis]:
        if client:
            yield client
            return
        # A client holds no connection (its pool does) and may be shared: made again only
        # when the channel's pool is (after a fork or a lost connection).
        pool = self.pool
        if self._client_of_pool is None or self._client_of_pool[0] is not pool:
            self._client_of_pool = (pool, self._create_client())
        yield self._client_of_pool[1]


class Transport(redis.Transport):
    Channel = Channel
    _client: Connection | None = None

    @property
    def client(self) -> Connection | None:
        return self._client

    @client.setter
    def client(self, connection: Connection | None) -> None:
        if connection is not None:
            self._client = connection
