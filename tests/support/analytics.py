"""Ask the running metering service for stored usage rows, as admin will."""

from __future__ import annotations

import asyncio

import nats
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
