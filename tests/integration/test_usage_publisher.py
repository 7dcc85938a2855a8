"""The router's usage publisher: a request hands its event over without waiting for the
acknowledgement, and the event is still stored exactly once, through a silent stream, with
a bound on what waits, and before shutdown lets go of the connection."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from tests.support.nats import start_test_nats
from tests.support.usage_stream import a_usage_event

from tollway_cli.servers import NatsServer
from tollway_common import contract, nats_client
from tollway_common.bus_permissions import Service
from tollway_router.usage_publisher import UsagePublisher

pytestmark = pytest.mark.integration


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[NatsServer]:
    nats = start_test_nats(tmp_path / "nats")
    try:
        yield nats
    finally:
        nats.stop()


@pytest.fixture
async def router_nc(server: NatsServer) -> AsyncIterator[Client]:
    """Connected as the router, so the closed bus lets the acks reach its inbox."""
    nc = await nats_client.connect(
        server.settings(Service.ROUTER), "test-router", service=Service.ROUTER
    )
    try:
        yield nc
    finally:
        await nc.close()


async def _stored(js: JetStreamContext) -> int:
    return (await js.stream_info(contract.USAGE_STREAM)).state.messages


async def test_events_are_stored_once_and_acknowledged(router_nc: Client) -> None:
    js = router_nc.jetstream()
    await nats_client.ensure_usage_stream(js, replicas=1)
    publisher = UsagePublisher(router_nc)
    events = [a_usage_event() for _ in range(50)]
    for event in events:
        await publisher.submit(event)
    assert publisher.pending > 0, "submit does not wait for the acknowledgement"
    await publisher.close(5.0)
    assert publisher.pending == 0
    assert await _stored(js) == 50


async def test_a_silent_stream_is_waited_out_and_the_event_stored_once(router_nc: Client) -> None:
    js = router_nc.jetstream()
    publisher = UsagePublisher(router_nc, ack_timeout_s=0.5)
    event = a_usage_event()
    # No stream yet: the publish is answered by nothing, as during a leader election.
    async with asyncio.timeout(1):
        await publisher.submit(event)
    await asyncio.sleep(1.5)
    assert publisher.pending == 1, "still trying"
    await nats_client.ensure_usage_stream(js, replicas=1)
    await publisher.close(10.0)
    assert publisher.pending == 0
    assert await _stored(js) == 1
    repeat = UsagePublisher(router_nc)
    await repeat.submit(event)  # as after an acknowledgement lost on the way
    await repeat.close(5.0)
    assert await _stored(js) == 1, "the message id keeps it once"


async def test_an_event_is_given_up_after_its_window(router_nc: Client) -> None:
    publisher = UsagePublisher(router_nc, window_s=0.5)
    await publisher.submit(a_usage_event())
    started = time.monotonic()
    await publisher.close(5.0)
    assert publisher.pending == 0
    assert time.monotonic() - started < 3


async def test_submit_waits_for_room_when_too_many_acks_are_outstanding(router_nc: Client) -> None:
    js = router_nc.jetstream()
    publisher = UsagePublisher(router_nc, max_pending=2, ack_timeout_s=0.3)
    await publisher.submit(a_usage_event())
    await publisher.submit(a_usage_event())
    third = asyncio.create_task(publisher.submit(a_usage_event()))
    await asyncio.sleep(0.5)
    assert not third.done(), "no stream acknowledges, so there is no room"
    await nats_client.ensure_usage_stream(js, replicas=1)
    async with asyncio.timeout(10):
        await third
    await publisher.close(10.0)
    assert await _stored(js) == 3


async def test_an_event_taken_survives_the_cancelled_caller(router_nc: Client) -> None:
    """What lets the handler await `submit` unshielded while `taking`: once taken, an event
    whose caller is cancelled mid-send is sent again by the sweep and stored once."""
    js = router_nc.jetstream()
    await nats_client.ensure_usage_stream(js, replicas=1)
    publisher = UsagePublisher(router_nc, max_pending=2, ack_timeout_s=0.3)
    assert not publisher.taking, "not started: submit would wait to subscribe"
    await publisher.start()
    assert publisher.taking
    event = a_usage_event()
    send = asyncio.create_task(publisher.submit(event))
    send.cancel()  # before it ran at all: nothing was taken
    with pytest.raises(asyncio.CancelledError):
        await send
    assert publisher.pending == 0
    sent = asyncio.get_running_loop().create_future()

    async def cancelled_mid_send(token: str, pending: object) -> None:
        sent.set_result(token)
        raise asyncio.CancelledError  # as a cancel arriving while the publish waits

    original = publisher._send
    publisher._send = cancelled_mid_send
    with pytest.raises(asyncio.CancelledError):
        await publisher.submit(event)
    publisher._send = original
    assert sent.done()
    assert publisher.pending == 1, "taken before the send was cut"
    await publisher.close(10.0)
    assert publisher.pending == 0
    assert await _stored(js) == 1


async def test_a_full_publisher_is_not_taking(router_nc: Client) -> None:
    # No stream: nothing acknowledges, so the two events stay and fill it.
    publisher = UsagePublisher(router_nc, max_pending=2, ack_timeout_s=5.0, window_s=0.5)
    await publisher.submit(a_usage_event())
    assert publisher.taking
    await publisher.submit(a_usage_event())
    assert not publisher.taking, "full: submit would wait for room, so the handler shields it"
    await publisher.close(5.0)
