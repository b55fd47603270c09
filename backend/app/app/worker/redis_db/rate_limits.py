"""Fixed-window counters in Redis: one counter per caller and window, which a Lua script
increments and gives its expiry in one round trip, alone or within the round trip that
a group of submits makes anyway (app.worker.redis_db.admissions).

A script of our own rather than a rate-limiting library's, whose counter is a round trip
of its own: that trip cost a single submit a tenth of its API CPU under load (README,
Performance).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from redis.client import Pipeline
from redis.commands.core import Script

from app.worker.redis_db import keys
from app.worker.redis_db.connection import best_effort, client

# A counter left without an expiry (its first hit's EXPIRE lost) gets one at the next hit.
_HIT = """
local hits = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {hits, ttl}
"""


@dataclass(frozen=True)
class Window:
    """A caller's counter just after a call's hits."""

    hits: int
    resets_in_seconds: int


@cache
def _hit() -> Script:
    return client().register_script(_HIT)


@best_effort(None)
def hit(window_seconds: int, identifiers: Sequence[str], hits: int = 1) -> Window | None:
    """Count `hits` in the caller's window; None when Redis does not answer: the limits
    guard against abuse, and refusing every call while Redis is down would turn a lost
    cache into an outage."""
    return window_of(_hit()(keys=[keys.rate_limit(*identifiers)], args=[hits, window_seconds]))


def hit_in(pipeline: Pipeline, window_seconds: int, identifiers: Sequence[str], hits: int) -> None:
    """`hit` within the pipeline: its answer, in the pipeline's, is for `window_of`."""
    _hit()(keys=[keys.rate_limit(*identifiers)], args=[hits, window_seconds], client=pipeline)


def window_of(answer: Sequence[int]) -> Window:
    hits, resets_in_seconds = answer
    return Window(int(hits), max(1, int(resets_in_seconds)))
