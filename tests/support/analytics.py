"""Ask the running metering service for stored usage rows, as admin will; and watch which
analytics questions a service asks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import nats
from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from tollway_common import contract
from tollway_common.contract import AnalyticsQuery, UsageRow

_POLL_ATTEMPTS = 300
_POLL_INTERVAL_S = 0.1


async def query_usage(nats_url: str, request_ids: list[str]) -> list[UsageRow]:
    nc = await nats.connect(nats_url)
    try:
        query = AnalyticsQuery(request_ids=request_ids, limit=max(1000, len(request_ids) * 2))
        reply = await nc.request(
            contract.analytics_subject("usage"), contract.encode(query), timeout=10
        )
        answer = contract.decode_analytics_reply(reply.data)
        assert not answer.error, answer.error
        return answer.rows
    finally:
        await nc.close()


async def wait_for_usage(nats_url: str, request_ids: list[str]) -> list[UsageRow]:
    """Poll until every request id has a row (metering may still be starting or batching)."""
    rows: list[UsageRow] = []
    for _ in range(_POLL_ATTEMPTS):
        try:
            rows = await query_usage(nats_url, request_ids)
        except (NoRespondersError, NatsTimeout):
            rows = []
        if {row.request_id for row in rows} >= set(request_ids):
            return rows
        await asyncio.sleep(_POLL_INTERVAL_S)
    return rows


@asynccontextmanager
async def analytics_asked(nats_url: str) -> AsyncIterator[list[str]]:
    """The subjects of the analytics questions asked while the block runs (a short settle after
    it, so a question sent at its end is counted)."""
    nc = await nats.connect(nats_url)
    asked: list[str] = []

    async def record(msg: Msg) -> None:
        asked.append(msg.subject)

    try:
        await nc.subscribe(contract.analytics_subject("*"), cb=record)
        await nc.flush()
        yield asked
        await nc.flush()
        await asyncio.sleep(0.2)
    finally:
        await nc.close()
