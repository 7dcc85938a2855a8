"""The router's upstream connection pool after a burst, against a real HTTP server: under a steady
rate that would keep every connection of aiohttp's own connector warm (it reuses the oldest
first), the router's connector reuses the newest, and the burst's other connections close after
the keep-alive timeout, as the process's own sockets show."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp
import psutil
import pytest
from tests.support.fake_openai_server import FakeOpenAIServer
from tests.support.polling import eventually

from tollway_router.upstream.connector import upstream_connector

BURST = 10
KEEPALIVE_S = 1.0
# One request per this: each of the burst's connections would be reused every half second
# when taken in turn, well within the keep-alive timeout.
PACE_S = KEEPALIVE_S / (2 * BURST)
STEADY_S = 3 * KEEPALIVE_S
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}


def _open_to(port: int) -> int:
    """This process's established connections to `port` (the client ends only)."""
    return sum(
        1
        for conn in psutil.Process().net_connections(kind="tcp")
        if conn.raddr and conn.raddr.port == port and conn.status == psutil.CONN_ESTABLISHED
    )


def _aiohttp_default(limit: int, keepalive_timeout_s: float) -> aiohttp.TCPConnector:
    return aiohttp.TCPConnector(limit=limit, keepalive_timeout=keepalive_timeout_s)


@pytest.mark.parametrize(
    ("connector", "kept"),
    [(upstream_connector, 1), (_aiohttp_default, BURST)],
    ids=["router", "aiohttp-default"],
)
async def test_a_bursts_connections_close_under_a_steady_rate(
    fake_upstream: FakeOpenAIServer,
    connector: Callable[[int, float], aiohttp.TCPConnector],
    kept: int,
) -> None:
    url = f"{fake_upstream.base_url}/chat/completions"
    async with aiohttp.ClientSession(connector=connector(100, KEEPALIVE_S)) as session:

        async def call() -> None:
            async with session.post(url, json=CHAT) as response:
                assert response.status == 200
                assert (await response.json())["object"] == "chat.completion"

        # Every call of the burst waits for all to have started: each holds a connection.
        started = asyncio.Barrier(BURST)

        async def held_call() -> None:
            await started.wait()
            await call()

        await asyncio.gather(*(held_call() for _ in range(BURST)))
        assert _open_to(fake_upstream.port) == BURST

        loop = asyncio.get_running_loop()
        deadline = loop.time() + STEADY_S
        while loop.time() < deadline:
            await call()
            await asyncio.sleep(PACE_S)

        async def settled() -> None:
            assert _open_to(fake_upstream.port) == kept

        await eventually(settled, f"{kept} upstream connections open", within_s=1)
