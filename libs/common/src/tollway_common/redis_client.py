"""Connecting to Redis; the admission scripts that use it arrive with rate limits and budgets."""

from __future__ import annotations

from redis.asyncio import Redis

from tollway_common.settings import RedisSettings


def connect(settings: RedisSettings) -> Redis:
    return Redis.from_url(settings.url, socket_connect_timeout=2.0, health_check_interval=10)
