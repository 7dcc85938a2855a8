"""uvicorn's httptools protocol with a deadline and a size cap on the request head (and, where
the app does not time its own body reads, a deadline on the body).

uvicorn arms no timer until a first response is sent and lets httptools buffer a request head
of any size: an idle or trickling connection stayed open as long as the client liked and a
20 MB header was read. `uvicorn_options` gives edge and admin the same limits.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tollway_common.settings import HttpLimits

_431 = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\n"
)


@dataclass(frozen=True, slots=True)
class HeadLimits:
    max_bytes: int
    timeout_s: float
    # None: the app reads the body under its own deadline (the edge answers 408 itself).
    body_timeout_s: float | None = None


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, head: HeadLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head = head
        self._in_head = True
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        self._disarm_body_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
            self._arm_head_timer()
        super().data_received(data)
        # Still in the head after the parser took this chunk: all of it was head.
        if self._in_head and self._head_bytes > self._head.max_bytes:
            self._refuse_head()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm_head_timer()
        if self._head.body_timeout_s is not None:
            self._body_timer = self.loop.call_later(self._head.body_timeout_s, self._too_slow)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        # Whatever comes next is the next request's head. No timer until its first byte:
        # the client may wait for a long stream first, and the keep-alive timer covers the
        # idle time after the response.
        self._in_head = True
        self._head_bytes = 0
        self._disarm_body_timer()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self._in_head and self._body_timer is None and not self.transport.is_closing():
            # Answered (a 408, a 413) before the body was all read: the rest is read and
            # dropped, but only for so long.
            self._body_timer = self.loop.call_later(self._head.timeout_s, self._too_slow)

    def _arm_head_timer(self) -> None:
        if self._head_timer is None and not self.transport.is_closing():
            self._head_timer = self.loop.call_later(self._head.timeout_s, self._head_too_slow)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _disarm_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._in_head:
            self._too_slow()

    def _too_slow(self) -> None:
        self._body_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def _refuse_head(self) -> None:
        self._in_head = False
        self._disarm_head_timer()
        message = f"Request headers are larger than {self._head.max_bytes} bytes.".encode()
        self.transport.write(
            _431 + b"content-length: " + str(len(message)).encode() + b"\r\n\r\n" + message
        )
        self.transport.close()


def uvicorn_options(limits: HttpLimits, *, app_times_body: bool) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run`; a partial of a module-level class, so worker
    processes can unpickle it."""
    body_timeout_s = None if app_times_body else limits.body_timeout_s
    head = HeadLimits(limits.max_header_bytes, limits.header_timeout_s, body_timeout_s)
    return {
        "http": functools.partial(LimitedHttpToolsProtocol, head=head),
        "timeout_keep_alive": limits.keep_alive_s,
        "limit_concurrency": limits.max_concurrency,
    }
