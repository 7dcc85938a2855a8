"""Closing pooled Redis connections left idle: which free connections go, that one in use never
does, the floor, and the pools `connect` builds per mode (no server: connections that were
never opened are taken and released; disconnecting one is a no-op)."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError
from redis.asyncio import Redis, RedisCluster
from redis.asyncio.connection import AbstractConnection
from tests.support.polling import eventually

from tollway_common.settings import RedisSettings
from tollway_edge import redis_client
from tollway_edge.redis_pools import (
    IdleClosingBlockingPool,
    IdleClosingSentinelPool,
    idle_closing_pool,
    reap_idle,
)


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _pool(
    clock: _Clock, *, idle_timeout_s: float = 30.0, min_idle: int = 0
) -> IdleClosingBlockingPool:
    return IdleClosingBlockingPool(
        max_connections=8,
        timeout=0.1,
        idle_timeout_s=idle_timeout_s,
        min_idle=min_idle,
        clock=clock,
    )


def _take_one(pool: IdleClosingBlockingPool) -> AbstractConnection:
    conn: AbstractConnection = pool.get_available_connection()  # type: ignore[no-untyped-call]
    return conn


def _take(pool: IdleClosingBlockingPool, count: int) -> list[AbstractConnection]:
    return [_take_one(pool) for _ in range(count)]


async def test_free_connections_idle_past_the_timeout_are_closed_and_one_in_use_is_kept() -> None:
    clock = _Clock()
    pool = _pool(clock)
    a, b, c, d = _take(pool, 4)
    for conn in (a, b):
        await pool.release(conn)
    clock.now += 20
    await pool.release(c)
    clock.now += 10

    assert await pool.close_idle() == [a, b]
    assert pool._available_connections == [c]
    assert set(pool._in_use_connections) == {d}, "the connection in use is left alone"

    clock.now += 30
    assert await pool.close_idle() == [c]
    assert pool._available_connections == []
    assert set(pool._in_use_connections) == {d}


async def test_nothing_closes_before_the_timeout() -> None:
    clock = _Clock()
    pool = _pool(clock)
    for conn in _take(pool, 3):
        await pool.release(conn)
    clock.now += 29.9
    assert await pool.close_idle() == []
    assert len(pool._available_connections) == 3


async def test_the_most_recently_released_connections_are_kept_as_a_floor() -> None:
    clock = _Clock()
    pool = _pool(clock, min_idle=2)
    conns = _take(pool, 5)
    for conn in conns:
        await pool.release(conn)
        clock.now += 1
    clock.now += 100
    assert await pool.close_idle() == conns[:3]
    assert pool._available_connections == conns[3:]
    assert await pool.close_idle() == [], "the floor stays however long it is idle"


async def test_a_timeout_of_zero_keeps_every_connection() -> None:
    clock = _Clock()
    pool = _pool(clock, idle_timeout_s=0)
    for conn in _take(pool, 3):
        await pool.release(conn)
    clock.now += 1e9
    assert await pool.close_idle() == []
    assert len(pool._available_connections) == 3


async def test_a_connection_taken_again_is_idle_from_its_latest_release() -> None:
    clock = _Clock()
    pool = _pool(clock)
    (conn,) = _take(pool, 1)
    await pool.release(conn)
    clock.now += 25
    assert _take_one(pool) is conn, "the last released is reused first"
    clock.now += 25
    assert await pool.close_idle() == [], "in use, however long since its previous release"
    await pool.release(conn)
    clock.now += 25
    assert await pool.close_idle() == []
    clock.now += 5
    assert await pool.close_idle() == [conn]


async def test_the_pool_opens_connections_again_up_to_its_bound_after_closing() -> None:
    clock = _Clock()
    pool = _pool(clock)
    first = _take(pool, 8)
    for conn in first:
        await pool.release(conn)
    clock.now += 60
    assert len(await pool.close_idle()) == 8
    again = [await asyncio.wait_for(_free_slot(pool), 1) for _ in range(8)]
    assert len(set(again)) == 8
    assert not set(again) & set(first), "new connections"
    assert not pool.can_get_connection(), "the bound still holds"


async def _free_slot(pool: IdleClosingBlockingPool) -> AbstractConnection:
    async with pool._condition:
        await pool._condition.wait_for(pool.can_get_connection)
        return _take_one(pool)


async def test_the_reaper_closes_idle_connections_until_cancelled() -> None:
    pool = IdleClosingBlockingPool(max_connections=4, timeout=0.1, idle_timeout_s=0.2)
    for conn in _take(pool, 3):
        await pool.release(conn)
    client = Redis.from_pool(pool)
    reaper = asyncio.create_task(reap_idle(client))

    async def all_closed() -> None:
        assert pool._available_connections == []

    await eventually(all_closed, "idle connections closed", within_s=2)
    assert not reaper.done()
    reaper.cancel()
    await asyncio.gather(reaper, return_exceptions=True)
    assert reaper.cancelled()
    await client.aclose()


async def test_the_reaper_ends_at_once_without_a_timeout_or_in_cluster_mode() -> None:
    standalone = redis_client.connect(RedisSettings(idle_timeout_s=0))
    cluster = redis_client.connect(RedisSettings(mode="cluster", cluster_nodes="127.0.0.1:7000"))
    try:
        assert isinstance(cluster, RedisCluster)
        assert idle_closing_pool(cluster) is None
        for client in (standalone, cluster):
            await asyncio.wait_for(reap_idle(client), 1)
    finally:
        await standalone.aclose()
        await cluster.aclose()


async def test_standalone_and_sentinel_pools_close_idle_connections_after_the_setting() -> None:
    standalone = redis_client.connect(RedisSettings(idle_timeout_s=45))
    sentinel = redis_client.connect(
        RedisSettings(mode="sentinel", sentinels="127.0.0.1:26379", idle_timeout_s=45)
    )
    try:
        for client, kind in (
            (standalone, IdleClosingBlockingPool),
            (sentinel, IdleClosingSentinelPool),
        ):
            pool = idle_closing_pool(client)
            assert isinstance(pool, kind)
            assert pool.idle_timeout_s == 45
            assert pool.min_idle >= 1
            # The pool's own options must not reach the connections' constructor.
            assert {"idle_timeout_s", "min_idle", "clock"}.isdisjoint(pool.connection_kwargs)
            pool.make_connection()  # type: ignore[no-untyped-call]
        assert RedisSettings().idle_timeout_s == 60
    finally:
        await standalone.aclose()
        await sentinel.aclose()


def test_a_negative_or_non_numeric_idle_timeout_is_refused_at_start() -> None:
    for value in ("-1", "soon"):
        with pytest.raises(ValidationError, match="idle_timeout_s"):
            RedisSettings.model_validate({"idle_timeout_s": value})
