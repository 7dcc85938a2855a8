"""The edge's HTTP protocol: uvicorn's, with the limits of `tollway_common.http_server`, and
a response's head leaving the process in the same `send()` as the body that follows it.

uvicorn writes a response's head as soon as the app sends `http.response.start`, and the body
in a second write: two socket writes where one would do. A write right after another costs
15-30 µs of CPU on these guests, one after a sleep 70-90 µs (docs/bench.md). The transport
below holds a head back until the next write, or until the end of the loop step that wrote it
when no body follows in that step, so a head is never delayed past the step that wrote it.
Other writes (a stream's chunks) go out at once, as before.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tollway_common.http_server import LimitedHttpToolsProtocol

# How every response head uvicorn writes begins (the status line, `100 Continue` included).
_HEAD = b"HTTP/1."


class CoalescingTransport:
    """A transport that sends a response head with the write after it; every other call goes
    to the transport it wraps, a `close` after the held head."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held = b""

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if self._held:
            data = self._held + data
            self._held = b""
        elif data[:7] == _HEAD:
            self._held = bytes(data)
            self._loop.call_soon(self._flush)
            return
        self._transport.write(data)

    def writelines(self, chunks: Any) -> None:
        for data in chunks:
            self.write(data)

    def _flush(self) -> None:
        held = self._held
        if held:
            self._held = b""
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = b""
        self._transport.abort()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class EdgeHttpProtocol(LimitedHttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        coalescing = CoalescingTransport(transport, self.loop)
        super().connection_made(coalescing)  # type: ignore[arg-type]
