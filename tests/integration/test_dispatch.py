"""The edge's reply mux against a real nats-server, with the test as the router: replies come
back in order, heartbeats keep a request alive, and each way a reply stream can fail ends in
its own error; a client that leaves cancels its request on the router. No Tollway process
runs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from tollway_cli.servers import NatsServer
from tollway_common import contract
from tollway_common.contract import Endpoint, ReplyKind
from tollway_common.errors import (
    NoRouterAvailable,
    PayloadTooLarge,
    RouterLost,
    UpstreamTimeout,
)
from tollway_edge.dispatch import ClientGone, Reply, ReplyMux

SUBJECT = contract.infer_subject(Endpoint.CHAT_COMPLETIONS)
# Long enough never to end a test that is not about silence.
PATIENT_S = 30.0


@dataclass
class Wire:
    # The test's router shares the edge's connection: a subscription flushed on a second
    # connection is now and then not yet seen by the server's no-responders check for the
    # first (seen on nats-server 2.x, about one run in fifteen on a loaded machine).
    nc: Client
    mux: ReplyMux


@pytest.fixture
async def wire(nats_server: NatsServer) -> AsyncIterator[Wire]:
    nc = await nats.connect(nats_server.url_as("test"))
    mux = ReplyMux("edge-test", idle_timeout_s=PATIENT_S)
    await mux.start(nc)
    try:
        yield Wire(nc, mux)
    finally:
        await mux.stop()
        await nc.close()


async def _router(wire: Wire, *sends: tuple[ReplyKind, int, bytes]) -> asyncio.Queue[Msg]:
    """A router that answers each request with `sends` (kind, seq, body); the requests it got
    are in the queue it returns."""
    received: asyncio.Queue[Msg] = asyncio.Queue()

    async def serve(msg: Msg) -> None:
        received.put_nowait(msg)
        assert msg.reply
        for kind, seq, data in sends:
            headers = {contract.HEADER_KIND: kind.value, contract.HEADER_SEQ: str(seq)}
            await wire.nc.publish(msg.reply, data, headers=headers)

    await wire.nc.subscribe(SUBJECT, cb=serve)
    await wire.nc.flush()
    return received


def _replies(wire: Wire, deadline_s: float = PATIENT_S) -> AsyncIterator[Reply]:
    deadline = time.monotonic() + deadline_s
    return wire.mux.replies(SUBJECT, b"{}", "req-1", deadline, wire.mux.new_token())


async def test_replies_come_in_order_and_heartbeats_are_skipped(wire: Wire) -> None:
    received = await _router(
        wire,
        (ReplyKind.HEARTBEAT, -1, b""),
        (ReplyKind.CHUNK, 0, b"one"),
        (ReplyKind.HEARTBEAT, -1, b""),
        (ReplyKind.CHUNK, 1, b"two"),
        (ReplyKind.FINAL, 2, b"{}"),
    )
    replies = [reply async for reply in _replies(wire)]
    assert replies == [
        Reply(ReplyKind.CHUNK, b"one"),
        Reply(ReplyKind.CHUNK, b"two"),
        Reply(ReplyKind.FINAL, b"{}"),
    ]
    request = received.get_nowait()
    assert request.headers is not None
    assert request.headers[contract.HEADER_REQUEST_ID] == "req-1"


async def _chunks_router(wire: Wire, sizes: str) -> None:
    """A router that answers with "one" and "two" as one `chunks` reply, then `final`."""

    async def serve(msg: Msg) -> None:
        assert msg.reply
        chunks = {
            contract.HEADER_KIND: ReplyKind.CHUNKS.value,
            contract.HEADER_SEQ: "0",
            contract.HEADER_SIZES: sizes,
        }
        await wire.nc.publish(msg.reply, b"onetwo", headers=chunks)
        final = {contract.HEADER_KIND: ReplyKind.FINAL.value, contract.HEADER_SEQ: "1"}
        await wire.nc.publish(msg.reply, b"{}", headers=final)

    await wire.nc.subscribe(SUBJECT, cb=serve)
    await wire.nc.flush()


async def test_chunks_that_came_together_are_split_back_in_order(wire: Wire) -> None:
    await _chunks_router(wire, "3,3")
    assert [reply async for reply in _replies(wire)] == [
        Reply(ReplyKind.CHUNKS, b"onetwo", (b"one", b"two")),
        Reply(ReplyKind.FINAL, b"{}"),
    ]


async def test_chunks_that_do_not_match_their_sizes_abort_the_request(wire: Wire) -> None:
    await _chunks_router(wire, "3,4")
    with pytest.raises(RouterLost, match="do not match their sizes"):
        await anext(_replies(wire))


async def test_an_error_reply_ends_the_replies(wire: Wire) -> None:
    await _router(wire, (ReplyKind.ERROR, 0, b"{}"), (ReplyKind.CHUNK, 1, b"late"))
    assert [reply async for reply in _replies(wire)] == [Reply(ReplyKind.ERROR, b"{}")]


async def test_no_router_is_a_503_at_once(wire: Wire) -> None:
    with pytest.raises(NoRouterAvailable):
        await anext(_replies(wire))


async def test_a_lost_reply_aborts_the_request(wire: Wire) -> None:
    await _router(wire, (ReplyKind.CHUNK, 0, b"one"), (ReplyKind.CHUNK, 2, b"three"))
    replies = _replies(wire)
    assert await anext(replies) == Reply(ReplyKind.CHUNK, b"one")
    with pytest.raises(RouterLost, match="expected 1, got 2"):
        await anext(replies)


async def test_a_silent_router_is_lost(wire: Wire) -> None:
    impatient = ReplyMux("edge-impatient", idle_timeout_s=0.2)
    await impatient.start(wire.nc)
    await _router(wire)
    deadline = time.monotonic() + PATIENT_S
    replies = impatient.replies(SUBJECT, b"{}", "req-1", deadline, impatient.new_token())
    with pytest.raises(RouterLost, match="stopped responding"):
        await anext(replies)
    await impatient.stop()


async def test_a_request_past_its_deadline_times_out(wire: Wire) -> None:
    await _router(wire)
    with pytest.raises(UpstreamTimeout):
        await anext(_replies(wire, deadline_s=0.2))


async def test_a_client_that_leaves_cancels_its_request_on_the_router(wire: Wire) -> None:
    cancels: asyncio.Queue[Msg] = asyncio.Queue()
    await wire.nc.subscribe(contract.cancel_subject("req-1"), cb=cancels.put)
    await _router(wire, (ReplyKind.CHUNK, 0, b"one"))
    token = wire.mux.new_token()
    replies = wire.mux.replies(SUBJECT, b"{}", "req-1", time.monotonic() + PATIENT_S, token)
    assert await anext(replies) == Reply(ReplyKind.CHUNK, b"one")
    wire.mux.abandon(token)
    with pytest.raises(ClientGone):
        await anext(replies)
    cancel = await asyncio.wait_for(cancels.get(), PATIENT_S)
    assert cancel.subject == contract.cancel_subject("req-1")


async def test_losing_nats_ends_every_open_request(wire: Wire) -> None:
    await _router(wire, (ReplyKind.CHUNK, 0, b"one"))
    replies = _replies(wire)
    assert await anext(replies) == Reply(ReplyKind.CHUNK, b"one")
    wire.mux.connection_lost()
    with pytest.raises(RouterLost, match="lost its connection"):
        await anext(replies)


async def test_a_body_too_large_for_nats_is_a_413(wire: Wire) -> None:
    wire.mux.check_size(1024)
    with pytest.raises(PayloadTooLarge):
        wire.mux.check_size(wire.nc.max_payload)
