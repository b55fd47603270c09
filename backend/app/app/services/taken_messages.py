"""Job messages that a worker took from a Redis broker and has not acknowledged, and
giving one back to its queue.

With acks_late, kombu's Redis transport keeps each message a worker took in a hash of
unacknowledged messages (indexed by when it was taken) until the worker acknowledges
it; only after the transport's visibility timeout (an hour) does a consumer put it
back. A message whose worker died before the job started would wait that long. AMQP
brokers need none of this: they requeue a dead connection's messages themselves.
"""

import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from kombu.transport.redis import Channel as RedisChannel
from kombu.transport.redis import QoS as RedisQoS

from app.core.celery_app import celery_app
from app.worker.task_routes import TaskName


@dataclass(frozen=True)
class TakenJobMessage:
    delivery_tag: str
    job_id: uuid.UUID
    # When the worker should have started it (seconds since the epoch): when it took
    # the message, or the message's ETA (a retry's countdown) if that is later.
    due: float


def taken_job_messages(due_before: float) -> list[TakenJobMessage]:
    """Run-job messages taken by a worker, unacknowledged, and due before `due_before`;
    none when the broker is not Redis."""
    with _redis_channel() as channel:
        if channel is None:
            return []
        with channel.conn_or_acquire() as client:
            taken = client.zrange(
                channel.unacked_index_key, 0, due_before, byscore=True, withscores=True
            )
            if not taken:
                return []
            tags = [tag for tag, _ in taken]
            stored = client.hmget(channel.unacked_key, tags)
    messages = []
    for (tag, taken_at), payload in zip(taken, stored, strict=True):
        if payload is None:
            continue  # acknowledged since
        headers = json.loads(payload)[0]["headers"]
        if headers.get("task") != TaskName.RUN_JOB:
            continue
        eta = headers.get("eta")
        due = max(taken_at, datetime.fromisoformat(eta).timestamp() if eta else 0.0)
        if due < due_before:
            messages.append(TakenJobMessage(_text(tag), uuid.UUID(headers["id"]), due))
    return messages


def give_back(messages: Sequence[TakenJobMessage]) -> None:
    """Put the messages back at the head of their queues (kombu's own restore, which
    leaves alone a message acknowledged meanwhile)."""
    with _redis_channel() as channel:
        if channel is not None:
            for message in messages:
                cast(RedisQoS, channel.qos).restore_by_tag(message.delivery_tag)


@contextmanager
def _redis_channel() -> Iterator[RedisChannel | None]:
    with celery_app.connection_for_write() as connection:
        # Asked of the transport: no connection is opened to another broker.
        if connection.transport.driver_type == "redis":
            yield cast(RedisChannel, connection.default_channel)
        else:
            yield None


def _text(tag: bytes | str) -> str:
    return tag.decode() if isinstance(tag, bytes) else tag
