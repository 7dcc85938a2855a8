"""Metering's feed consumer in this process against a real nats-server, storing into a
recorder (the `Feed.store` seam the warehouse fills in metering): batching, backlogs, failed
inserts, undecodable events and replicas sharing the durable. The crash between insert and ack,
and the rows in chDB, are shown with the real service in test_metering_exactly_once.py."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from tests.support.polling import eventually

from tollway_cli.servers import NatsServer
from tollway_common import contract, nats_client
from tollway_common.contract import Endpoint, Principal, UsageEvent
from tollway_common.ids import new_request_id, usage_msg_id
from tollway_metering.consumer import Feed, FeedConsumer
from tollway_metering.settings import MeteringSettings

pytestmark = pytest.mark.integration


@dataclass
class Recorder:
    """Stores batches in memory; fails the next `failures` inserts."""

    batches: list[list[str]] = field(default_factory=list)
    failures: int = 0

    async def store(self, events: list[UsageEvent]) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("warehouse down")
        self.batches.append([event.request_id for event in events])

    def stored(self) -> list[str]:
        return [request_id for batch in self.batches for request_id in batch]


def _feed(recorder: Recorder) -> Feed[UsageEvent]:
    return Feed(
        "usage",
        contract.USAGE_STREAM,
        contract.USAGE_SUBJECT,
        contract.USAGE_DURABLE,
        contract.decode_usage_event,
        recorder.store,
    )


def _event(index: int) -> UsageEvent:
    return UsageEvent(
        request_id=new_request_id(),
        received_at_ms=int(time.time() * 1000) + index,
        endpoint=Endpoint.CHAT_COMPLETIONS,
        principal=Principal(key_id="key-1", team_id="team-a", org_id="org-a"),
        model_alias="fake-chat",
        deployment="fake-1",
        provider="fake",
        status_code=200,
        prompt_tokens=10,
        completion_tokens=5,
        total_tokens=15,
        latency_ms=12.5,
    )


async def _publish(js: JetStreamContext, events: list[UsageEvent]) -> None:
    for event in events:
        await js.publish(
            contract.USAGE_SUBJECT,
            contract.encode(event),
            headers={contract.HEADER_MSG_ID: usage_msg_id(event.request_id)},
        )


Run = Callable[..., Awaitable[Recorder]]


@pytest.fixture
async def js(nats_server: NatsServer) -> AsyncIterator[JetStreamContext]:
    nc: Client = await nats.connect(nats_server.url_as("test"))
    try:
        js = nc.jetstream()
        await nats_client.ensure_usage_stream(js, replicas=1)
        yield js
    finally:
        await nc.close()


@pytest.fixture
async def run(js: JetStreamContext) -> AsyncIterator[Run]:
    """Start a consumer with these settings (and this recorder); all stop at the end."""
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []

    async def start(recorder: Recorder | None = None, **settings: float) -> Recorder:
        recorder = recorder or Recorder()
        consumer = FeedConsumer(js, _feed(recorder), MeteringSettings.model_validate(settings))
        tasks.append(asyncio.create_task(consumer.run(stop)))
        await eventually(lambda: _durable_exists(js), "the consumer subscribes")
        return recorder

    try:
        yield start
    finally:
        stop.set()
        for task in tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 10)


async def _durable_exists(js: JetStreamContext) -> None:
    try:
        await js.consumer_info(contract.USAGE_STREAM, contract.USAGE_DURABLE)
    except NotFoundError as exc:
        raise AssertionError("no durable yet") from exc


async def _consumer_state(js: JetStreamContext) -> tuple[int, int]:
    """(events still in the stream, events delivered and not yet acked)."""
    info = await js.consumer_info(contract.USAGE_STREAM, contract.USAGE_DURABLE)
    return info.num_pending or 0, info.num_ack_pending or 0


async def _all_acked(js: JetStreamContext) -> None:
    assert await _consumer_state(js) == (0, 0)


async def test_a_trickle_across_batch_deadlines_is_stored_once(
    js: JetStreamContext, run: Run
) -> None:
    # Events arriving just after a batch started make nats-py's fetch run out of time in
    # several different places; each must read as "nothing more for now".
    recorder = await run(flush_interval_s=0.05, fetch_timeout_s=0.2)
    events = [_event(index) for index in range(120)]
    for index, event in enumerate(events):
        await _publish(js, [event])
        await asyncio.sleep(0.005 * (index % 9))  # the trickle's pace
    await eventually(lambda: _all_acked(js), "every event acked", 30)
    assert sorted(recorder.stored()) == sorted(event.request_id for event in events)


async def test_a_trickle_stays_in_the_stream_until_its_batch_is_due(
    js: JetStreamContext, run: Run
) -> None:
    # Events published while a batch lingers stay in JetStream and come in one pull when the
    # batch is due: metering (and nats-server) must not wake for each one as it is published.
    recorder = await run(flush_interval_s=4, fetch_timeout_s=0.2)
    events = [_event(index) for index in range(21)]
    await _publish(js, events[:1])

    async def first_pulled() -> None:
        assert await _consumer_state(js) == (0, 1)

    await eventually(first_pulled, "the first event is pulled")
    await _publish(js, events[1:])
    await asyncio.sleep(0.5)  # the scenario: the batch is still lingering
    assert await _consumer_state(js) == (20, 1)
    await eventually(lambda: _all_acked(js), "the batch is stored when due", 30)
    assert sorted(recorder.stored()) == sorted(event.request_id for event in events)


async def test_a_backlog_is_taken_in_full_batches_without_waiting_for_the_flush(
    js: JetStreamContext, run: Run
) -> None:
    # With a flush interval longer than the test's wait, only the backlog path stores them.
    events = [_event(index) for index in range(30)]
    await _publish(js, events)
    recorder = await run(batch_size=10, flush_interval_s=600, fetch_timeout_s=0.2)
    await eventually(lambda: _all_acked(js), "the backlog is stored", 30)
    assert recorder.stored() == [event.request_id for event in events]
    assert max(len(batch) for batch in recorder.batches) == 10


async def test_a_failed_insert_naks_the_batch_and_it_is_stored_later(
    js: JetStreamContext, run: Run
) -> None:
    events = [_event(index) for index in range(5)]
    await _publish(js, events)
    recorder = await run(Recorder(failures=1), flush_interval_s=0, fetch_timeout_s=0.2)
    await eventually(lambda: _all_acked(js), "the batch is stored after the failed insert", 30)
    assert sorted(recorder.stored()) == sorted(event.request_id for event in events)


async def test_an_undecodable_event_is_terminated_and_blocks_nothing(
    js: JetStreamContext, run: Run
) -> None:
    good = _event(0)
    await js.publish(contract.USAGE_SUBJECT, b'{"not": "a usage event"}')
    await _publish(js, [good])
    recorder = await run(flush_interval_s=0, fetch_timeout_s=0.2)
    await eventually(lambda: _all_acked(js), "both are settled", 30)
    assert recorder.stored() == [good.request_id]


async def test_two_replicas_share_the_durable_and_store_each_event_once(
    js: JetStreamContext, run: Run
) -> None:
    small = {"batch_size": 5, "flush_interval_s": 0.05, "fetch_timeout_s": 0.2}
    replicas = [await run(**small), await run(**small)]
    events = [_event(index) for index in range(200)]
    for index, event in enumerate(events):
        await _publish(js, [event])
        if index % 10 == 9:
            await asyncio.sleep(0.02)  # the publisher's pace
    await eventually(lambda: _all_acked(js), "every event acked", 30)
    assert all(replica.batches for replica in replicas), "both replicas took part"
    stored = replicas[0].stored() + replicas[1].stored()
    assert collections.Counter(stored) == {event.request_id: 1 for event in events}
