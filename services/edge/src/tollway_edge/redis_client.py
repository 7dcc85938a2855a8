"""Connecting to Redis, which holds the rate-limit, concurrency and budget counters."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from tollway_common.settings import RedisSettings


def connection_options(settings: RedisSettings) -> tuple[str, dict[str, Any]]:
    """The URL and keyword arguments for `Redis.from_url`: credentials (a password file read
    now, so a rotated file is picked up on restart) and TLS files."""
    url = settings.url
    options: dict[str, Any] = {}
    if settings.username:
        options["username"] = settings.username
    password = settings.password.get_secret_value()
    if settings.password_file is not None:
        password = settings.password_file.read_text().strip()
    if password:
        options["password"] = password
    if settings.tls:
        url = "rediss://" + url.removeprefix("redis://").removeprefix("rediss://")
        options["ssl_cert_reqs"] = "required"
        if settings.tls_ca_file is not None:
            options["ssl_ca_certs"] = str(settings.tls_ca_file)
        if settings.tls_cert_file is not None:
            options["ssl_certfile"] = str(settings.tls_cert_file)
        if settings.tls_key_file is not None:
            options["ssl_keyfile"] = str(settings.tls_key_file)
    return url, options


def connect(settings: RedisSettings) -> Redis:
    url, options = connection_options(settings)
    return Redis.from_url(
        url,
        socket_connect_timeout=2.0,
        socket_timeout=settings.timeout_s,
        health_check_interval=10,
        **options,
    )
