"""Answer analytics requests from the warehouse, for admin and the edge; one subject per
question (`contract.analytics_subject(name)`), shared by every metering replica (queue group)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import BaseModel, ValidationError

from tollway_common import contract
from tollway_common.contract import (
    AnalyticsQuery,
    AnalyticsReply,
    AuditQuery,
    AuditReply,
    SummaryQuery,
    SummaryReply,
)
from tollway_metering.queries import QueryError
from tollway_metering.warehouse import Warehouse

log = logging.getLogger(__name__)

USAGE_QUERY = "usage"
SUMMARY_QUERY = "summary"
AUDIT_QUERY = "audit"

Answer = Callable[[bytes], Awaitable[BaseModel]]


class AnalyticsResponder:
    def __init__(self, nc: Client, warehouse: Warehouse) -> None:
        self._nc = nc
        self._warehouse = warehouse
        self._subs: list[Subscription] = []
        self.answers: dict[str, Answer] = {
            USAGE_QUERY: self._usage,
            SUMMARY_QUERY: self._summary,
            AUDIT_QUERY: self._audit,
        }

    async def start(self) -> None:
        for name, answer in self.answers.items():
            self._subs.append(
                await self._nc.subscribe(
                    contract.analytics_subject(name),
                    queue=contract.METERING_QUEUE_GROUP,
                    cb=self._responder(answer),
                )
            )

    async def stop(self) -> None:
        for sub in self._subs:
            await sub.unsubscribe()
        self._subs = []

    def _responder(self, answer: Answer) -> Callable[[Msg], Awaitable[None]]:
        async def respond(msg: Msg) -> None:
            if msg.reply:
                await self._nc.publish(msg.reply, contract.encode(await answer(msg.data)))

        return respond

    async def _usage(self, data: bytes) -> AnalyticsReply:
        try:
            query = AnalyticsQuery.model_validate_json(data)
            return AnalyticsReply(rows=await self._warehouse.query_usage(query))
        except ValidationError as exc:
            return AnalyticsReply(error=f"invalid analytics query: {exc.errors()[0]['msg']}")
        except Exception as exc:
            log.exception("usage query failed")
            return AnalyticsReply(error=f"usage query failed: {type(exc).__name__}: {exc}")

    async def _summary(self, data: bytes) -> SummaryReply:
        try:
            query = SummaryQuery.model_validate_json(data)
            return SummaryReply(rows=await self._warehouse.summary(query))
        except ValidationError as exc:
            return SummaryReply(error=f"invalid summary query: {exc.errors()[0]['msg']}")
        except QueryError as exc:
            return SummaryReply(error=str(exc))
        except Exception as exc:
            log.exception("summary query failed")
            return SummaryReply(error=f"summary query failed: {type(exc).__name__}: {exc}")

    async def _audit(self, data: bytes) -> AuditReply:
        try:
            query = AuditQuery.model_validate_json(data)
            return AuditReply(events=await self._warehouse.audit(query))
        except ValidationError as exc:
            return AuditReply(error=f"invalid audit query: {exc.errors()[0]['msg']}")
        except Exception as exc:
            log.exception("audit query failed")
            return AuditReply(error=f"audit query failed: {type(exc).__name__}: {exc}")
