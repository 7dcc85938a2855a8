"""The disconnect watch: no task for an answer that comes quickly, a watch that starts when
the answer is slow or a stream begins, and the request abandoned when the client leaves."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.types import Message

from tollway_edge import disconnects
from tollway_edge.disconnects import DisconnectWatch


class Client:
    """The ASGI receive side of a client that stays until `leave()`."""

    def __init__(self) -> None:
        self.reads = 0
        self.gone = asyncio.Event()

    async def receive(self) -> Message:
        self.reads += 1
        await self.gone.wait()
        return {"type": "http.disconnect"}

    def request(self) -> Request:
        return Request({"type": "http", "method": "POST", "headers": []}, self.receive)


async def test_a_quick_answer_never_reads_from_the_client() -> None:
    client, abandoned = Client(), []
    watch = DisconnectWatch(client.request(), lambda: abandoned.append(True))
    await asyncio.sleep(0)
    watch.stop()
    await asyncio.sleep(disconnects.START_AFTER_S * 2)
    assert client.reads == 0
    assert abandoned == []


async def test_a_slow_answer_is_watched_and_abandoned_when_the_client_leaves() -> None:
    client, abandoned = Client(), []
    watch = DisconnectWatch(client.request(), lambda: abandoned.append(True))
    await asyncio.sleep(disconnects.START_AFTER_S * 2)
    assert client.reads == 1
    client.gone.set()
    await asyncio.sleep(0.01)
    assert abandoned == [True]
    watch.stop()


async def test_a_stream_is_watched_from_its_start_until_stopped() -> None:
    client, abandoned = Client(), []
    watch = DisconnectWatch(client.request(), lambda: abandoned.append(True))
    watch.start()
    await asyncio.sleep(0)
    assert client.reads == 1
    watch.stop()
    client.gone.set()
    await asyncio.sleep(0.01)
    assert abandoned == []
