"""One Redis connection pool per URL and process (redis-py keeps reconnecting after a Redis restart)."""

from __future__ import annotations

from functools import lru_cache

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry


@lru_cache(maxsize=8)
def redis_client(url: str) -> redis.Redis:
    """A thread-safe client for ``url`` with short timeouts and retries: a restarting Redis costs a retry,
    not a failed request, and a dead one fails fast enough for a readiness probe."""
    return redis.Redis.from_url(
        url, socket_connect_timeout=1.0, socket_timeout=2.0, health_check_interval=10,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.02), retries=5),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
    )
