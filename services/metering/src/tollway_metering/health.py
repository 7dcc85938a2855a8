"""Metering's view of what it depends on, polled every few seconds: how far each feed's durable
consumer lags behind its stream, and whether the warehouse answers. /metrics reports both and
/readyz reads the last answer, so a probe never queries the warehouse itself."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import nats.errors
from nats.js import JetStreamContext

from tollway_metering import metrics
from tollway_metering.consumer import Feed
from tollway_metering.warehouse import Warehouse

log = logging.getLogger(__name__)

_POLL_INTERVAL_S = 5.0
_TIMEOUT_S = 3.0


class HealthWatch:
    def __init__(
        self,
        js: JetStreamContext,
        warehouse: Warehouse,
        feeds: Sequence[Feed[Any]],
        interval_s: float = _POLL_INTERVAL_S,
    ) -> None:
        self._js = js
        self._warehouse = warehouse
        self._feeds = feeds
        self._interval_s = interval_s
        self.warehouse_up = False

    async def run(self) -> None:
        while True:
            await self.poll()
            await asyncio.sleep(self._interval_s)

    async def poll(self) -> None:
        for feed in self._feeds:
            try:
                info = await self._js.consumer_info(feed.stream, feed.durable, timeout=_TIMEOUT_S)
            except (nats.errors.Error, TimeoutError) as exc:
                log.debug("consumer info for %s unavailable: %s", feed.name, exc)
                continue
            metrics.CONSUMER_PENDING.labels(feed.name).set(info.num_pending or 0)
            metrics.CONSUMER_ACK_PENDING.labels(feed.name).set(info.num_ack_pending or 0)
        try:
            async with asyncio.timeout(_TIMEOUT_S):
                await self._warehouse.ping()
            self.warehouse_up = True
        except Exception as exc:
            if self.warehouse_up:
                log.warning("warehouse stopped answering: %s", exc)
            self.warehouse_up = False
        metrics.WAREHOUSE_UP.set(1 if self.warehouse_up else 0)
