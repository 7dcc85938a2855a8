"""Connecting to Redis, which holds the rate-limit, concurrency and budget counters: one server,
a Sentinel-managed primary, or a Redis Cluster (`TOLLWAY_EDGE_REDIS__MODE`)."""

from __future__ import annotations

import logging
from typing import Any

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.cluster import ClusterNode
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import RedisError

from tollway_common.settings import RedisSettings, parse_addresses
from tollway_edge.redis_pools import IdleClosingBlockingPool, IdleClosingSentinelPool

log = logging.getLogger(__name__)

# What the limiter, the alert markers and the health watch talk to: both answer the same
# commands and run the same scripts (every script's keys share one hash tag).
RedisClient = Redis | RedisCluster

_CONNECT_TIMEOUT_S = 2.0
_HEALTH_CHECK_INTERVAL_S = 10
_RETRIES = 1
# Free connections kept however long they are idle, so a quiet edge's next request does not
# wait for a connect.
_MIN_IDLE_CONNECTIONS = 2


def credentials(settings: RedisSettings) -> dict[str, Any]:
    """The ACL user and password (a password file read now, so a rotated file is picked up on
    restart)."""
    options: dict[str, Any] = {}
    if settings.username:
        options["username"] = settings.username
    password = settings.password.get_secret_value()
    if settings.password_file is not None:
        password = settings.password_file.read_text().strip()
    if password:
        options["password"] = password
    return options


def tls_options(settings: RedisSettings) -> dict[str, Any]:
    """The CA and client certificate files, without the `ssl` switch itself (a `rediss://` URL
    is that switch for one server)."""
    if not settings.tls:
        return {}
    options: dict[str, Any] = {"ssl_cert_reqs": "required"}
    if settings.tls_ca_file is not None:
        options["ssl_ca_certs"] = str(settings.tls_ca_file)
    if settings.tls_cert_file is not None:
        options["ssl_certfile"] = str(settings.tls_cert_file)
    if settings.tls_key_file is not None:
        options["ssl_keyfile"] = str(settings.tls_key_file)
    return options


def connection_options(settings: RedisSettings) -> tuple[str, dict[str, Any]]:
    """The URL and keyword arguments for `Redis.from_url` (standalone mode): credentials and
    TLS files."""
    url = settings.url
    if settings.tls:
        url = "rediss://" + url.removeprefix("redis://").removeprefix("rediss://")
    return url, credentials(settings) | tls_options(settings)


def _timeouts(settings: RedisSettings) -> dict[str, Any]:
    """Bounded waits. One quick retry covers a pooled connection that a restart or a failover
    closed; redis-py's default (ten, backing off to a second) would hold a request for
    seconds while Redis is away, where the configured failure mode should answer at once."""
    return {
        "socket_connect_timeout": _CONNECT_TIMEOUT_S,
        "socket_timeout": settings.timeout_s,
        "health_check_interval": _HEALTH_CHECK_INTERVAL_S,
        "retry": Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.05), _RETRIES),
    }


def _idle_closing(settings: RedisSettings) -> dict[str, Any]:
    """How long a pooled connection may sit unused (redis_pools; `reap_idle` closes it)."""
    return {"idle_timeout_s": settings.idle_timeout_s, "min_idle": _MIN_IDLE_CONNECTIONS}


def connect(settings: RedisSettings) -> RedisClient:
    """A client for the configured mode; it connects lazily, on the first command."""
    if settings.mode == "cluster":
        return _cluster(settings)
    if settings.mode == "sentinel":
        return _sentinel_primary(settings)
    url, options = connection_options(settings)
    # Blocking: under a burst, a call waits (bounded) for a free connection; redis-py's default
    # pool raises "Too many connections" at once, dropping settlements and failing budgets.
    pool = IdleClosingBlockingPool.from_url(
        url,
        max_connections=settings.max_connections,
        timeout=settings.timeout_s,
        **_idle_closing(settings),
        **_timeouts(settings),
        **options,
    )
    return Redis.from_pool(pool)


async def warm_up(client: RedisClient) -> None:
    """Load a cluster's slot map before traffic: left to the first commands, concurrent ones
    race its initialisation and some fail on connections it replaces. An unreachable cluster
    is only logged; the first command tries again and the failure modes answer meanwhile."""
    if not isinstance(client, RedisCluster):
        return
    try:
        await client.initialize()
    except (RedisError, OSError) as exc:
        log.warning("redis cluster not reachable at start: %s", exc)


def _cluster(settings: RedisSettings) -> RedisCluster:
    nodes = [ClusterNode(host, port) for host, port in parse_addresses(settings.cluster_nodes, "")]
    ssl = {"ssl": True} | tls_options(settings) if settings.tls else {}
    return RedisCluster(
        startup_nodes=nodes,
        # A slot whose primary is gone fails only the requests that hash to it; the others go on.
        require_full_coverage=False,
        **_timeouts(settings),
        **credentials(settings),
        **ssl,
    )


class _SentinelPrimary(Redis):
    """The primary's client that also closes its connections to the sentinels."""

    sentinel_client: Sentinel | None = None

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        if self.sentinel_client is not None:
            for client in self.sentinel_client.sentinels:
                await client.aclose()


def _sentinel_primary(settings: RedisSettings) -> Redis:
    """The primary the sentinels name now; after a failover, new connections ask them again and
    connections to a demoted primary are dropped (redis-py's SentinelConnectionPool)."""
    ssl = {"ssl": True} | tls_options(settings) if settings.tls else {}
    sentinel_auth: dict[str, Any] = {
        "socket_connect_timeout": _CONNECT_TIMEOUT_S,
        "socket_timeout": settings.timeout_s,
    }
    if settings.sentinel_password.get_secret_value():
        sentinel_auth["password"] = settings.sentinel_password.get_secret_value()
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        parse_addresses(settings.sentinels, ""),
        sentinel_kwargs=sentinel_auth | ssl,
    )
    primary: _SentinelPrimary = sentinel.master_for(
        settings.master_name,
        redis_class=_SentinelPrimary,
        connection_pool_class=IdleClosingSentinelPool,
        **_idle_closing(settings),
        **_timeouts(settings),
        **credentials(settings),
        **ssl,
    )
    primary.sentinel_client = sentinel
    return primary
