"""Ask metering analytics questions over NATS (it owns the warehouse)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeVar

import nats.errors
from nats.aio.client import Client
from pydantic import BaseModel

from tollway_common import contract
from tollway_common.contract import AnalyticsQuery, AnalyticsReply, UsageFilter, UsageRow
from tollway_common.errors import InvalidRequest, NoRouterAvailable, UpstreamTimeout

R = TypeVar("R", bound=BaseModel)
_TIMEOUT_S = 30.0
PAGE_ROWS = 5000


async def ask(nc: Client, name: str, query: BaseModel, answer: type[R]) -> R:
    try:
        reply = await nc.request(
            contract.analytics_subject(name), contract.encode(query), timeout=_TIMEOUT_S
        )
    except nats.errors.NoRespondersError:
        raise NoRouterAvailable("Metering is not running, so there is no usage to show.") from None
    except nats.errors.TimeoutError:
        raise UpstreamTimeout("Metering did not answer the analytics question in time.") from None
    result = answer.model_validate_json(reply.data)
    error = getattr(result, "error", "")
    if error:
        raise InvalidRequest(str(error))
    return result


async def usage_rows(nc: Client, flt: UsageFilter) -> AsyncIterator[UsageRow]:
    """Every row the filter covers, oldest first, a page at a time."""
    after_ms, after_id = 0, ""
    while True:
        page = await ask(
            nc,
            "usage",
            AnalyticsQuery(
                filter=flt, limit=PAGE_ROWS, after_ms=after_ms, after_request_id=after_id
            ),
            AnalyticsReply,
        )
        for row in page.rows:
            yield row
        if len(page.rows) < PAGE_ROWS:
            return
        after_ms, after_id = page.rows[-1].received_at_ms, page.rows[-1].request_id
