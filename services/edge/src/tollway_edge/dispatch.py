"""Send an InferRequest to the routers and hand back their replies in order.

One wildcard inbox subscription per edge process carries every reply; each request gets its
own queue. The router's heartbeats keep a request alive; silence for `idle_timeout_s` means
the router is gone. A client that goes away gets its request cancelled on the router.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.nuid import NUID

from tollway_common import contract, tracing
from tollway_common.contract import ReplyKind
from tollway_common.errors import (
    NoRouterAvailable,
    PayloadTooLarge,
    RouterLost,
    UpstreamTimeout,
)
from tollway_edge.reply_box import ReplyBox

log = logging.getLogger(__name__)

_MAX_QUEUED_REPLIES = 10_000
# Room for the InferRequest envelope around the client's body.
_ENVELOPE_MARGIN = 16 * 1024


@dataclass(frozen=True, slots=True)
class Reply:
    kind: ReplyKind
    data: bytes
    # A `chunks` reply's chunks (its `data` is them back to back).
    pieces: tuple[bytes, ...] = ()


class ClientGone(Exception):
    """The client disconnected while its request was waiting for replies."""


class Unanswered(RouterLost):
    """The router was lost before any router said a word about the request (no reply, no
    heartbeat): as far as this edge knows it reached no router, so it reached no upstream."""


class _Lost:
    """Queued into every open request when the edge loses NATS: replies may have been lost."""


class _Gone:
    """Queued into one request when its client disconnects."""


_LOST = _Lost()
_GONE = _Gone()


class ReplyMux:
    def __init__(self, edge_id: str, idle_timeout_s: float) -> None:
        self._nc: Client | None = None
        self._prefix = contract.reply_inbox_prefix(edge_id)
        self._idle_timeout_s = idle_timeout_s
        self._boxes: dict[str, ReplyBox[Msg | _Lost | _Gone]] = {}
        self._nuid = NUID()
        self._sub: Subscription | None = None

    @property
    def nc(self) -> Client:
        assert self._nc is not None, "ReplyMux.start() first"
        return self._nc

    async def start(self, nc: Client) -> None:
        self._nc = nc
        self._sub = await self.nc.subscribe(
            f"{self._prefix}.*", cb=self._on_reply, pending_msgs_limit=1_000_000
        )
        await self.nc.flush()

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()

    def connection_lost(self) -> None:
        for box in self._boxes.values():
            box.put(_LOST)

    async def _on_reply(self, msg: Msg) -> None:
        token = msg.subject[len(self._prefix) + 1 :]
        box = self._boxes.get(token)
        if box is None:
            return
        if len(box) >= _MAX_QUEUED_REPLIES:
            # The client reads slower than the router sends: abort this request alone.
            del self._boxes[token]
            box.put(_LOST)
            log.error("reply queue overflow; aborting the request")
            return
        box.put(msg)

    def check_size(self, payload_size: int) -> None:
        limit = self.nc.max_payload
        if payload_size + _ENVELOPE_MARGIN > limit:
            raise PayloadTooLarge(
                f"Request body of {payload_size} bytes is larger than this gateway can carry "
                f"({limit - _ENVELOPE_MARGIN} bytes). Send fewer or smaller images or documents."
            )

    def new_token(self) -> str:
        return self._nuid.next().decode()

    def abandon(self, token: str) -> None:
        """The client of request `token` left: its `replies` raises ClientGone."""
        box = self._boxes.get(token)
        if box is not None:
            box.put(_GONE)

    async def replies(
        self, subject: str, payload: bytes, request_id: str, deadline: float, token: str
    ) -> AsyncGenerator[Reply, None]:
        """Publish the request and yield its replies until `final` or `error`.

        Raises NoRouterAvailable, RouterLost, UpstreamTimeout or ClientGone before or between
        replies. When the consumer stops early (client gone), the router is told to cancel.
        """
        box: ReplyBox[Msg | _Lost | _Gone] = ReplyBox(asyncio.get_running_loop())
        self._boxes[token] = box
        finished = False
        try:
            headers = {contract.HEADER_REQUEST_ID: request_id}
            tracing.inject(headers)
            reply = f"{self._prefix}.{token}"
            await self.nc.publish(subject, payload, reply=reply, headers=headers)
            expected_seq = 0
            heard = False
            while True:
                try:
                    msg = await self._next(box, deadline)
                except RouterLost as exc:
                    if heard:
                        raise
                    raise Unanswered(exc.message) from exc
                heard = True
                kind, seq = _kind_and_seq(msg)
                if kind is None:
                    finished = True
                    raise NoRouterAvailable(
                        "No router is available to serve this request right now; retry shortly."
                    )
                if kind is ReplyKind.HEARTBEAT:
                    continue
                if seq != expected_seq:
                    raise RouterLost(
                        f"The reply stream from the router lost messages (expected {expected_seq},"
                        f" got {seq}); the request was aborted."
                    )
                expected_seq += 1
                if kind is ReplyKind.CHUNKS:
                    yield Reply(kind, msg.data, _pieces(msg))
                    continue
                if kind in (ReplyKind.FINAL, ReplyKind.ERROR):
                    finished = True
                yield Reply(kind, msg.data)
                if finished:
                    return
        finally:
            self._boxes.pop(token, None)
            box.close()
            if not finished:
                await self._cancel(request_id)

    async def _next(self, box: ReplyBox[Msg | _Lost | _Gone], deadline: float) -> Msg:
        if len(box):
            item = await box.next(0.0)
        else:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise UpstreamTimeout("The request took longer than this gateway allows.")
            item = await box.next(min(self._idle_timeout_s, remaining))
        if isinstance(item, Msg):
            return item
        if isinstance(item, _Gone):
            raise ClientGone
        if isinstance(item, _Lost):
            raise RouterLost("The gateway lost its connection to the routers; retry the request.")
        if time.monotonic() >= deadline:
            raise UpstreamTimeout("The request took longer than this gateway allows.")
        raise RouterLost("The router serving this request stopped responding; retry the request.")

    async def _cancel(self, request_id: str) -> None:
        with contextlib.suppress(Exception):
            await self.nc.publish(contract.cancel_subject(request_id), b"")


def _pieces(msg: Msg) -> tuple[bytes, ...]:
    sizes = (msg.headers or {}).get(contract.HEADER_SIZES, "")
    try:
        return tuple(contract.split_chunks(msg.data, sizes))
    except ValueError:
        raise RouterLost(
            "The router sent chunks that do not match their sizes; the request was aborted."
        ) from None


# A dict lookup: calling the enum costs five Python calls a reply.
_KINDS = {kind.value: kind for kind in ReplyKind}
_HEARTBEAT = ReplyKind.HEARTBEAT.value


def _kind_and_seq(msg: Msg) -> tuple[ReplyKind | None, int]:
    headers = msg.headers or {}
    if headers.get(contract.HEADER_NATS_STATUS) == contract.NATS_NO_RESPONDERS:
        return None, -1
    value = headers.get(contract.HEADER_KIND, _HEARTBEAT)
    # An unknown kind still raises the enum's ValueError.
    kind = _KINDS.get(value) or ReplyKind(value)
    if kind is ReplyKind.HEARTBEAT:
        return kind, -1
    return kind, int(headers.get(contract.HEADER_SEQ, "-1"))
