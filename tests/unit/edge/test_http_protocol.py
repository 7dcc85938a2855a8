"""The edge's coalescing transport: a response head leaves with the write after it, or at the
end of the loop step that wrote it; nothing else waits."""

from __future__ import annotations

import asyncio
from typing import Any

from tollway_edge.http_protocol import CoalescingTransport

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"


class RecordingTransport(asyncio.Transport):
    """Stands where the socket's transport stands and records each write it is asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True


def _pair() -> tuple[RecordingTransport, CoalescingTransport]:
    inner = RecordingTransport()
    return inner, CoalescingTransport(inner, asyncio.get_running_loop())


async def test_a_head_leaves_with_the_body_written_after_it() -> None:
    inner, transport = _pair()
    transport.write(HEAD)
    assert inner.writes == []
    transport.write(b"")
    transport.write(b"hello")
    assert inner.writes == [HEAD + b"hello"]
    await asyncio.sleep(0)
    assert inner.writes == [HEAD + b"hello"]


async def test_other_writes_go_out_at_once() -> None:
    inner, transport = _pair()
    transport.writelines([b"5\r\ndata:\r\n", memoryview(b"0\r\n\r\n")])
    assert inner.writes == [b"5\r\ndata:\r\n", b"0\r\n\r\n"]


async def test_a_head_with_no_body_in_its_step_leaves_at_the_step_end() -> None:
    inner, transport = _pair()
    transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    await asyncio.sleep(0)
    assert inner.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]


async def test_close_sends_the_held_head_first_and_abort_drops_it() -> None:
    inner, transport = _pair()
    transport.write(HEAD)
    transport.close()
    assert inner.writes == [HEAD]
    assert inner.closed
    await asyncio.sleep(0)
    assert inner.writes == [HEAD]

    inner, transport = _pair()
    transport.write(HEAD)
    transport.abort()
    await asyncio.sleep(0)
    assert inner.writes == []
    assert inner.aborted


async def test_nothing_is_written_to_a_transport_already_closing() -> None:
    inner, transport = _pair()
    transport.write(HEAD)
    inner.closed = True
    await asyncio.sleep(0)
    assert inner.writes == []
    assert transport.is_closing()
