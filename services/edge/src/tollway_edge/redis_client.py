"""Connecting to Redis, which holds the rate-limit, concurrency and budget counters."""

from __future__ import annotations

from redis.asyncio import Redis

from tollway_common.settings import RedisSettings


def connect(settings: RedisSettings) -> Redis:
    return Redis.from_url(
        settings.url,
        socket_connect_timeout=2.0,
        socket_timeout=settings.timeout_s,
        health_check_interval=10,
    )
