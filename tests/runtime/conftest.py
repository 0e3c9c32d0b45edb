from __future__ import annotations

import os

import pytest

REDIS_URL = os.environ.get("TRUTHLOOP_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_url() -> str:
    """Redis at 127.0.0.1:6379 (each test names its own queue and flushes it); the test is
    skipped, saying why, only when Redis cannot be reached."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis at {REDIS_URL} cannot be reached: {error}")
    return REDIS_URL
