"""Answer analytics requests from the warehouse, for admin and the edge; one subject per
question (`contract.analytics_subject(name)`), shared by every metering replica (queue group)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

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
    BodyQuery,
    BodyReply,
    RequestDetailQuery,
    RequestDetailReply,
    RequestLogQuery,
    RequestLogReply,
    SummaryQuery,
    SummaryReply,
)
from tollway_metering.queries import QueryError
from tollway_metering.warehouse import Warehouse

log = logging.getLogger(__name__)

USAGE_QUERY = "usage"
SUMMARY_QUERY = "summary"
AUDIT_QUERY = "audit"
BODIES_QUERY = "bodies"
REQUESTS_QUERY = "requests"
REQUEST_QUERY = "request"

Answer = Callable[[bytes], Awaitable[BaseModel]]
Q = TypeVar("Q", bound=BaseModel)
A = TypeVar("A", bound=BaseModel)


class AnalyticsResponder:
    def __init__(self, nc: Client, warehouse: Warehouse) -> None:
        self._nc = nc
        self._warehouse = warehouse
        self._subs: list[Subscription] = []
        self.answers: dict[str, Answer] = {
            USAGE_QUERY: self._usage,
            SUMMARY_QUERY: self._summary,
            AUDIT_QUERY: self._audit,
            BODIES_QUERY: self._bodies,
            REQUESTS_QUERY: self._requests,
            REQUEST_QUERY: self._request,
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
        return await _answer("usage", data, AnalyticsQuery, AnalyticsReply, self._rows)

    async def _summary(self, data: bytes) -> SummaryReply:
        return await _answer("summary", data, SummaryQuery, SummaryReply, self._summary_rows)

    async def _audit(self, data: bytes) -> AuditReply:
        return await _answer("audit", data, AuditQuery, AuditReply, self._audit_events)

    async def _bodies(self, data: bytes) -> BodyReply:
        return await _answer("bodies", data, BodyQuery, BodyReply, self._body_events)

    async def _requests(self, data: bytes) -> RequestLogReply:
        return await _answer("requests", data, RequestLogQuery, RequestLogReply, self._log_rows)

    async def _request(self, data: bytes) -> RequestDetailReply:
        return await _answer(
            "request", data, RequestDetailQuery, RequestDetailReply, self._warehouse.request_detail
        )

    async def _rows(self, query: AnalyticsQuery) -> AnalyticsReply:
        return AnalyticsReply(rows=await self._warehouse.query_usage(query))

    async def _log_rows(self, query: RequestLogQuery) -> RequestLogReply:
        return RequestLogReply(rows=await self._warehouse.request_log(query))

    async def _summary_rows(self, query: SummaryQuery) -> SummaryReply:
        return SummaryReply(rows=await self._warehouse.summary(query))

    async def _audit_events(self, query: AuditQuery) -> AuditReply:
        return AuditReply(events=await self._warehouse.audit(query))

    async def _body_events(self, query: BodyQuery) -> BodyReply:
        return BodyReply(bodies=await self._warehouse.query_bodies(query))


async def _answer(
    name: str,
    data: bytes,
    query_type: type[Q],
    reply_type: type[A],
    run: Callable[[Q], Awaitable[A]],
) -> A:
    """Decode, run, and turn every failure into the reply's `error`, never a silence."""
    try:
        return await run(query_type.model_validate_json(data))
    except ValidationError as exc:
        return reply_type(error=f"invalid {name} query: {exc.errors()[0]['msg']}")
    except QueryError as exc:
        return reply_type(error=str(exc))
    except Exception as exc:
        log.exception("analytics query failed", extra={"query": name})
        return reply_type(error=f"{name} query failed: {type(exc).__name__}: {exc}")
