"""Drain batch lines: every router pulls from one durable consumer on `TOLLWAY_BATCH_LINES`
and serves each line in process through its `Handler`, as the batch's owner, within its batch
limits (`BatchSettings`). A line is acked only after its result is stored (`results.py`):

- a router that dies holding a line leaves it unacked; after `ack_wait_s` another router gets
  it, serves it again under the same request id (its usage event is deduplicated by that id)
  and stores the result, which JetStream drops if the first router had stored it already;
- a line the upstream answers 429 or 503 is nak'd with a delay, not failed, until its
  deliveries reach `max_attempts`; only the attempt whose result is kept is metered;
- a line of a batch being cancelled is not served: its result is the `batch_cancelled` error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from typing import Any

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import ValidationError

from tollway_common import contract
from tollway_common.batch_store import BatchStore
from tollway_common.batches import (
    CANCELLED_CODE,
    BatchStatus,
    line_request_id,
    output_line,
    skipped_line,
)
from tollway_common.contract import BatchLine, InferRequest, ResolvedRoute, UsageEvent
from tollway_router.batch.results import Results
from tollway_router.handler import Handler
from tollway_router.replies import Collector
from tollway_router.settings import BatchSettings
from tollway_router.usage import publish_usage

log = logging.getLogger(__name__)

# Upstream answers that mean "later", not "never": the line waits and is tried again.
RETRY_STATUSES = frozenset({429, 503})
_FETCH_WAIT_S = 1.0
# Statuses a batch reaches only once every line has its result.
_EVERY_LINE_ANSWERED = frozenset(
    {BatchStatus.FINALIZING, BatchStatus.COMPLETED, BatchStatus.CANCELLED, BatchStatus.EXPIRED}
)


def consumer_config(settings: BatchSettings) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=contract.BATCH_LINES_DURABLE,
        filter_subject=contract.BATCH_LINES_WILDCARD,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=settings.ack_wait_s,
        # Deliveries are bounded by the drain itself (`max_attempts`), which records a result.
        max_deliver=-1,
        max_ack_pending=-1,
    )


class BatchDrain:
    def __init__(
        self,
        nc: Client,
        js: JetStreamContext,
        handler: Handler,
        results: Results,
        batches: BatchStore,
        settings: BatchSettings,
    ) -> None:
        self._nc = nc
        self._js = js
        self._handler = handler
        self._results = results
        self._batches = batches
        self._settings = settings
        self._room = asyncio.Event()
        self._per_model: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(settings.per_model)
        )
        self._inflight: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._subscription: JetStreamContext.PullSubscription | None = None
        self._stopping = False

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    async def start(self) -> None:
        config = consumer_config(self._settings)
        # add_consumer first so changed settings reach an existing durable (create-or-update).
        await self._js.add_consumer(contract.BATCH_LINES_STREAM, config)
        self._subscription = await self._js.pull_subscribe(
            contract.BATCH_LINES_WILDCARD,
            durable=contract.BATCH_LINES_DURABLE,
            stream=contract.BATCH_LINES_STREAM,
            config=config,
        )
        self._task = asyncio.create_task(self._run(self._subscription), name="batch-drain")

    async def stop(self, grace_s: float) -> None:
        """Stop fetching, let the lines in hand finish (bounded); the rest go back to the
        queue unacked, for another router."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._subscription is not None:
            # nats-py's fetch takes messages off the inbox without marking them done, so a
            # connection drain would wait its whole timeout (5 s) on this inbox: close it first.
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()
        pending = list(self._inflight)
        if pending:
            _, still_running = await asyncio.wait(pending, timeout=grace_s)
            for task in still_running:
                task.cancel()
            if still_running:
                await asyncio.wait(still_running, timeout=5)

    async def _run(self, subscription: JetStreamContext.PullSubscription) -> None:
        while not self._stopping:
            free = self._settings.concurrency - len(self._inflight)
            if free <= 0:
                self._room.clear()
                await self._room.wait()
                continue
            try:
                msgs = await subscription.fetch(free, timeout=_FETCH_WAIT_S)
            except TimeoutError:
                # nats-py raises its own TimeoutError or asyncio's; both mean "none for now".
                continue
            except Exception:
                log.exception("batch line fetch failed")
                await asyncio.sleep(_FETCH_WAIT_S)
                continue
            for msg in msgs:
                task = asyncio.create_task(self._line(msg))
                self._inflight.add(task)
                task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._room.set()

    async def _line(self, msg: Msg) -> None:
        try:
            line = contract.decode_batch_line(msg.data)
        except ValidationError:
            log.exception("dropping a malformed batch line")
            await msg.term()
            return
        keepalive = asyncio.create_task(self._keep(msg))
        try:
            async with self._per_model[line.alias]:
                await self._serve(line, msg)
        except Exception:
            # Left unacked: it comes back after ack_wait, for this router or another.
            log.exception("batch line failed", extra={"batch_id": line.batch_id})
        finally:
            keepalive.cancel()

    async def _keep(self, msg: Msg) -> None:
        """Tell JetStream the line is still being worked on, so it is not handed to another
        router while its upstream thinks."""
        while True:
            await asyncio.sleep(self._settings.ack_wait_s / 3)
            with contextlib.suppress(Exception):
                await msg.in_progress()

    async def _serve(self, line: BatchLine, msg: Msg) -> None:
        delivered = msg.metadata.num_delivered
        record = await self._batches.get(line.owner, line.batch_id)
        if record is None or record.status is BatchStatus.FAILED:
            # Nothing waits for this line: the batch is gone, or failed while being queued.
            await msg.ack()
            return
        # A batch past `cancelling` has every line's result: a line still arriving came back
        # after its router died between storing the result and acking it; it is only counted.
        if record.status is BatchStatus.CANCELLING:
            message = "The batch was cancelled before this request was sent."
            skipped = skipped_line(
                line.batch_id, line.line_no, line.custom_id, CANCELLED_CODE, message
            )
            await self._results.store(line, ok=False, output=skipped)
        elif record.status not in _EVERY_LINE_ANSWERED:
            collector, event = await self._answer(line)
            error = collector.error_reply
            retry = error is not None and error.status in RETRY_STATUSES
            if retry and delivered < self._settings.max_attempts:
                await msg.nak(delay=self._settings.retry_delay_s * delivered)
                return
            # The attempt whose result is kept is the one metered.
            await asyncio.shield(publish_usage(self._js, event))
            ok, output = output_of(line, event.request_id, collector)
            await self._results.store(line, ok=ok, output=output)
        await self._results.progress(line, redelivered=delivered > 1)
        await msg.ack()

    async def _answer(self, line: BatchLine) -> tuple[Collector, UsageEvent]:
        handler = self._handler
        infer = infer_request_for(line, self._settings.line_timeout_s)
        capture = handler.body_log.capture_for(infer) if handler.body_log is not None else None
        collector = Collector(self._nc, handler.router_id, capture)
        event = await handler.answer(infer, collector, capture, meter=False)
        return collector, event


def infer_request_for(line: BatchLine, timeout_s: float) -> InferRequest:
    now = time.time()
    return InferRequest(
        request_id=line_request_id(line.batch_id, line.line_no),
        endpoint=line.endpoint,
        principal=line.principal,
        route=ResolvedRoute(alias=line.alias),
        received_at_ms=int(now * 1000),
        deadline_ms=int((now + timeout_s) * 1000),
        body=line.body,
        client=line.client,
        log_bodies=line.log_bodies,
        facts=line.facts,
        batch_id=line.batch_id,
    )


def output_of(
    line: BatchLine, request_id: str, collector: Collector
) -> tuple[bool, dict[str, Any]]:
    """Whether the line succeeded, and its output line: the upstream's answer, or the error
    a live client would have received, with its status."""
    error = collector.error_reply
    if error is not None:
        body: Any = {"error": error.error.model_dump(mode="json")}
        return False, output_line(
            line.batch_id, line.line_no, line.custom_id, request_id, error.status, body
        )
    answer = orjson.loads(collector.body) if collector.body else None
    return True, output_line(line.batch_id, line.line_no, line.custom_id, request_id, 200, answer)
