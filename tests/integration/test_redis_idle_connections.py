"""The edge's Redis pool against a real redis-server: connections a burst opened close once
idle past `TOLLWAY_EDGE_REDIS__IDLE_TIMEOUT_S`, down to the floor, as redis-server's own
`CLIENT LIST` shows; one held by a command longer than that timeout finishes its command; the
client goes on working."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis
from tests.support.polling import eventually

from tollway_cli.servers import RedisServer
from tollway_common.settings import RedisSettings
from tollway_edge import redis_client, redis_pools

BURST = 12
IDLE_TIMEOUT_S = 0.4
FLOOR = redis_client._MIN_IDLE_CONNECTIONS


async def _blpop(client: redis_client.RedisClient, timeout_s: float) -> object:
    """A pop from a list nobody fills: holds a connection for `timeout_s`, then None."""
    return await client.blpop(["idle-test:empty"], timeout=timeout_s)


async def _edge_clients(redis: Redis) -> int:
    """The clients redis-server has, other than this test's own connection."""
    own_id = await redis.client_id()
    return sum(1 for client in await redis.client_list() if int(client["id"]) != own_id)


async def _until_clients(redis: Redis, expected: int) -> None:
    async def count_is_expected() -> None:
        count = await _edge_clients(redis)
        assert count == expected, f"{count} clients, expected {expected}"

    await eventually(count_is_expected, "idle connections closed", within_s=3)


async def test_a_bursts_connections_close_when_idle_and_a_busy_one_stays(
    redis_server: RedisServer, redis: Redis
) -> None:
    client = redis_client.connect(
        RedisSettings(url=redis_server.url, timeout_s=3.0, idle_timeout_s=IDLE_TIMEOUT_S)
    )
    reaper = asyncio.create_task(redis_pools.reap_idle(client))
    try:
        # Held four idle timeouts by a blocking pop on an empty list: in use all along.
        held = asyncio.create_task(_blpop(client, 4 * IDLE_TIMEOUT_S))
        await asyncio.sleep(0.05)
        burst = await asyncio.gather(*(_blpop(client, 0.2) for _ in range(BURST)))
        assert burst == [None] * BURST
        assert await _edge_clients(redis) == BURST + 1

        await _until_clients(redis, FLOOR + 1)  # the burst's extra connections closed
        assert not held.done()
        assert await held is None, "the command on the busy connection ran to its own timeout"

        assert await client.set("idle-test:key", "v")
        assert await client.get("idle-test:key") == b"v"
        await _until_clients(redis, FLOOR)  # down to the floor, and it stays there
        await asyncio.sleep(3 * IDLE_TIMEOUT_S)
        assert await _edge_clients(redis) == FLOOR
        assert await client.incr("idle-test:counter") == 1
    finally:
        reaper.cancel()
        await asyncio.gather(reaper, return_exceptions=True)
        await client.aclose()
