"""The Redis handler: the only code in `app` that talks to Redis.

Redis carries the hot state (job snapshots, progress ticks, live logs, heartbeats, cancel
flags, cached principals and API-key owners, rate-limit counters) and the messages that
API processes follow. It may lose everything at any moment; PostgreSQL is the record.
So most calls here are best effort: on a Redis error they log it and return the
fallback their docstring names. The few whose caller must know raise `RedisUnavailable`.

    connection   clients, keys' prefix, the best-effort policy, readiness's ping
    jobs         a job's snapshot, progress, live log, cancel flag, sent mark, end counts
    heartbeats   the heartbeats of running jobs and how long Redis has held its data
    caches       principals, API-key owners, and invalidations for API processes' caches
    follower     one subscription per API process, followed from a thread
    rate_limits  fixed-window counters
"""
