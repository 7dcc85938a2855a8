"""Durable JetStream pull consumers: fetch a batch, insert it, and only then ack it.

One consumer per feed (usage events, audit events); a feed names its stream, durable, how to
decode a message and how to store a batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import ValidationError

from tollway_common import contract
from tollway_common.contract import Alert, AuditEvent, BodyEvent, UsageEvent
from tollway_metering import metrics
from tollway_metering.charges import PriceBook
from tollway_metering.settings import MeteringSettings
from tollway_metering.warehouse import Warehouse

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Feed(Generic[T]):
    name: str
    stream: str
    subject: str
    durable: str
    decode: Callable[[bytes], T]
    store: Callable[[list[T]], Awaitable[None]]


def usage_feed(warehouse: Warehouse, prices: PriceBook) -> Feed[UsageEvent]:
    async def store(events: list[UsageEvent]) -> None:
        charges = [prices.charge(event) for event in events]
        await warehouse.insert_usage(events, charges)
        metrics.record_usage(events, charges)

    return Feed(
        "usage",
        contract.USAGE_STREAM,
        contract.USAGE_SUBJECT,
        contract.USAGE_DURABLE,
        contract.decode_usage_event,
        store,
    )


def audit_feed(warehouse: Warehouse) -> Feed[AuditEvent]:
    return Feed(
        "audit",
        contract.AUDIT_STREAM,
        contract.AUDIT_SUBJECT,
        contract.AUDIT_DURABLE,
        contract.decode_audit_event,
        warehouse.insert_audit,
    )


def bodies_feed(warehouse: Warehouse) -> Feed[BodyEvent]:
    return Feed(
        "bodies",
        contract.BODIES_STREAM,
        contract.BODIES_SUBJECT,
        contract.BODIES_DURABLE,
        contract.decode_body_event,
        warehouse.insert_bodies,
    )


def alerts_feed(warehouse: Warehouse) -> Feed[Alert]:
    return Feed(
        "alerts",
        contract.ALERTS_STREAM,
        contract.ALERTS_SUBJECT,
        contract.ALERTS_METERING_DURABLE,
        contract.decode_alert,
        warehouse.insert_alerts,
    )


FAULT_EXIT_CODE = 17
_BACKOFF_FIRST_S = 1.0
_BACKOFF_MAX_S = 30.0
_MIN_ACK_PENDING = 1000
# How long the pull after a batch's linger waits when nothing more is in the stream.
_DRAIN_TIMEOUT_S = 0.02


async def _wait_unless_stopped(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def consumer_config(feed: Feed[T], settings: MeteringSettings) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=feed.durable,
        filter_subject=feed.subject,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=settings.ack_wait_s,
        max_deliver=settings.max_deliver,
        # Several instances share the durable, each holding a batch in flight.
        max_ack_pending=max(settings.batch_size * 10, _MIN_ACK_PENDING),
    )


def decode_batch(
    msgs: Sequence[Msg], decode: Callable[[bytes], T]
) -> tuple[list[tuple[Msg, T]], list[Msg]]:
    """Split a batch into decoded events and messages that can never be decoded."""
    good: list[tuple[Msg, T]] = []
    bad: list[Msg] = []
    for msg in msgs:
        try:
            good.append((msg, decode(msg.data)))
        except ValidationError:
            bad.append(msg)
    return good, bad


class FeedConsumer(Generic[T]):
    def __init__(self, js: JetStreamContext, feed: Feed[T], settings: MeteringSettings) -> None:
        self._js = js
        self._feed = feed
        self._settings = settings
        self._backoff_s = _BACKOFF_FIRST_S

    async def subscribe(self) -> JetStreamContext.PullSubscription:
        feed = self._feed
        config = consumer_config(feed, self._settings)
        # pull_subscribe binds to an existing durable as it is; add_consumer first so changed
        # settings (ack_wait, max_deliver, ...) reach the server (create-or-update).
        await self._js.add_consumer(feed.stream, config)
        return await self._js.pull_subscribe(
            feed.subject, durable=feed.durable, stream=feed.stream, config=config
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set; the batch in hand is always finished first.

        Messages are gathered for up to `flush_interval_s` (or `batch_size` of them) before one
        insert: each insert has a fixed cost, so a trickle of events must not mean one insert
        per event.
        """
        psub = await self.subscribe()
        log.info(f"{self._feed.name} consumer started", extra={"durable": self._feed.durable})
        try:
            while not stop.is_set():
                try:
                    batch = await self._next_batch(psub, stop)
                except nats.errors.Error as exc:
                    # Disconnected or reconnecting: unacked messages come back after ack_wait.
                    log.warning("%s consumer nats error: %s", self._feed.name, exc)
                    await self._wait_backoff(stop)
                    continue
                if batch and not await self.handle_batch(batch):
                    await self._wait_backoff(stop)
        finally:
            # On a closed connection there is nothing left to unsubscribe from.
            with contextlib.suppress(nats.errors.Error):
                await psub.unsubscribe()
            log.info(f"{self._feed.name} consumer stopped")

    async def _next_batch(
        self, psub: JetStreamContext.PullSubscription, stop: asyncio.Event
    ) -> list[Msg]:
        """Wait for one message; unless a backlog is waiting, let the rest stay in the stream
        until the batch is due, then take them in one pull.

        Pulling on after the first message would have nats-server deliver, and metering wake
        for, each event as the router publishes it: on a small machine those wake-ups land on
        the cores the next request needs (docs/bench.md).
        """
        size = self._settings.batch_size
        batch = await self._fetch(psub, 1, self._settings.fetch_timeout_s)
        if not batch or size == 1:
            return batch
        backlog = batch[0].metadata.num_pending
        if backlog < size - 1 and self._settings.flush_interval_s > 0:
            await _wait_unless_stopped(stop, self._settings.flush_interval_s)
        if not stop.is_set():
            batch += await self._fetch(psub, size - 1, _DRAIN_TIMEOUT_S)
        return batch

    @staticmethod
    async def _fetch(
        psub: JetStreamContext.PullSubscription, wanted: int, wait_s: float
    ) -> list[Msg]:
        try:
            return await psub.fetch(wanted, timeout=wait_s)
        except TimeoutError:
            # nats-py raises its own TimeoutError or asyncio's, depending on where in a fetch
            # the time ran out; both mean "nothing more for now".
            return []

    async def handle_batch(self, msgs: Sequence[Msg]) -> bool:
        """Insert then ack; on failure nak everything for a later retry. True if stored."""
        good, bad = decode_batch(msgs, self._feed.decode)
        for msg in bad:
            # A message that never decodes would otherwise block its slot until max_deliver.
            log.error(
                f"undecodable {self._feed.name} event terminated",
                extra={"stream_seq": msg.metadata.sequence.stream, "size": len(msg.data)},
            )
            await msg.term()
        if not good:
            return True
        name = self._feed.name
        metrics.BATCH_SIZE.labels(name).observe(len(good))
        try:
            with metrics.INSERT_DURATION.labels(name).time():
                await self._feed.store([event for _, event in good])
        except Exception:
            metrics.INSERT_FAILURES.labels(name).inc()
            log.exception(f"{name} insert failed; batch nak'ed", extra={"events": len(good)})
            for msg, _ in good:
                await msg.nak(delay=self._backoff_s)
            return False
        metrics.EVENTS_STORED.labels(name).inc(len(good))
        self._backoff_s = _BACKOFF_FIRST_S
        if self._settings.fault_exit_after_insert:
            self._fault_exit(len(good))
        await self._ack([msg for msg, _ in good])
        log.debug(f"{self._feed.name} batch stored", extra={"events": len(good)})
        return True

    async def _ack(self, msgs: Sequence[Msg]) -> None:
        # A lost ack only means a redelivery, which the warehouse collapses (FINAL).
        try:
            for msg in msgs[:-1]:
                await msg.ack()
            await msgs[-1].ack_sync()
        except (nats.errors.Error, TimeoutError) as exc:
            log.warning("%s ack failed; batch will be redelivered: %s", self._feed.name, exc)

    async def _wait_backoff(self, stop: asyncio.Event) -> None:
        delay = self._backoff_s
        self._backoff_s = min(self._backoff_s * 2, _BACKOFF_MAX_S)
        await _wait_unless_stopped(stop, delay)

    @staticmethod
    def _fault_exit(events: int) -> None:
        # Written straight to stderr: the logging thread would not get to run before _exit.
        sys.stderr.write(f"fault_exit_after_insert: inserted {events} events, exiting unacked\n")
        sys.stderr.flush()
        os._exit(FAULT_EXIT_CODE)
