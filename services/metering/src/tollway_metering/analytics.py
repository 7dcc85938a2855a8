"""Answer analytics requests from the warehouse, for admin; the subject comes from the contract."""

from __future__ import annotations

import logging

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import ValidationError

from tollway_common import contract
from tollway_common.contract import AnalyticsReply
from tollway_metering.warehouse import Warehouse

log = logging.getLogger(__name__)

USAGE_QUERY = "usage"


class AnalyticsResponder:
    def __init__(self, nc: Client, warehouse: Warehouse) -> None:
        self._nc = nc
        self._warehouse = warehouse
        self._sub: Subscription | None = None

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(
            contract.analytics_subject(USAGE_QUERY),
            queue=contract.METERING_QUEUE_GROUP,
            cb=self._on_request,
        )

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None

    async def answer(self, data: bytes) -> AnalyticsReply:
        try:
            query = contract.decode_analytics_query(data)
        except ValidationError as exc:
            return AnalyticsReply(error=f"invalid analytics query: {exc.errors()[0]['msg']}")
        try:
            rows = await self._warehouse.query_usage(query)
        except Exception as exc:
            log.exception("usage query failed")
            return AnalyticsReply(error=f"usage query failed: {type(exc).__name__}: {exc}")
        return AnalyticsReply(rows=rows)

    async def _on_request(self, msg: Msg) -> None:
        if not msg.reply:
            return
        reply = await self.answer(msg.data)
        await self._nc.publish(msg.reply, contract.encode(reply))
