"""The overview: replicas with uptime and version (their NATS heartbeats), traffic, errors,
latency and time-to-first-token, tokens and spend today, and the alarms an operator acts on
(budgets near their limit, unpriced models, deployments not serving). The live part is
re-fetched every few seconds."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from nats.aio.client import Client
from starlette.responses import Response

from tollway_admin import read_scope
from tollway_admin.analytics_client import ask
from tollway_admin.budget_use import BudgetUse, budget_uses, utc_now
from tollway_admin.resources import KEYS, MODELS, ORGS, PRICES, TEAMS
from tollway_admin.routes.common import store_of
from tollway_admin.routes.deployment_health import board_of
from tollway_admin.ui import session
from tollway_admin.ui.render import page
from tollway_common.contract import SummaryQuery, SummaryReply, SummaryRow, UsageFilter
from tollway_common.errors import TollwayError

router = APIRouter(prefix="/admin", include_in_schema=False)

RATE_WINDOW_S = 300
LATENCY_WINDOW_S = 3600
_MINUTE_MS = 60_000
_MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True, slots=True)
class Traffic:
    requests_per_s: float
    error_rate: float
    latency: SummaryRow
    today_tokens: int
    today_spend: list[tuple[Decimal, str]]
    today_unpriced: int


async def _summary(
    nc: Client, scope: UsageFilter, since_ms: int, bucket: str = "", limit: int = 10
) -> list[SummaryRow]:
    flt = scope.model_copy(update={"since_ms": since_ms})
    query = SummaryQuery(filter=flt, bucket=bucket, limit=limit)
    return (await ask(nc, "summary", query, SummaryReply)).rows


def _total(rows: list[SummaryRow]) -> SummaryRow:
    """One row for figures summed over rows (requests, errors, tokens)."""
    if len(rows) == 1:
        return rows[0]
    return SummaryRow(
        requests=sum(r.requests for r in rows),
        errors=sum(r.errors for r in rows),
        prompt_tokens=sum(r.prompt_tokens for r in rows),
        completion_tokens=sum(r.completion_tokens for r in rows),
        unpriced_requests=sum(r.unpriced_requests for r in rows),
        latency_p50_ms=max((r.latency_p50_ms for r in rows), default=0.0),
        latency_p95_ms=max((r.latency_p95_ms for r in rows), default=0.0),
        latency_p99_ms=max((r.latency_p99_ms for r in rows), default=0.0),
    )


def rate_window_start_ms(now_ms: int) -> int:
    """The start of the minute that holds `now - RATE_WINDOW_S`: the rate covers whole minutes
    of the per-minute summary, 300 to 360 s."""
    return (now_ms - RATE_WINDOW_S * 1000) // _MINUTE_MS * _MINUTE_MS


def traffic_of(
    minutes: list[SummaryRow], hour: SummaryRow, now_ms: int, midnight_ms: int
) -> Traffic:
    """The traffic tiles from one per-minute summary (since the earlier of midnight and the
    rate window) and the last hour's latency.

    One query, so one snapshot: figures from separate queries disagreed whenever metering
    stored a row between them (tokens today counting a request the rate did not), and the
    page kept that for its 10 s refresh."""
    window_start_ms = rate_window_start_ms(now_ms)
    recent = _total([r for r in minutes if r.bucket_ms >= window_start_ms])
    today_rows = [r for r in minutes if r.bucket_ms >= midnight_ms]
    today = _total(today_rows)
    spend: dict[str, Decimal] = {}
    for row in today_rows:
        if row.requests:
            spend[row.currency] = spend.get(row.currency, Decimal(0)) + Decimal(row.cost)
    return Traffic(
        requests_per_s=recent.requests / ((now_ms - window_start_ms) / 1000),
        error_rate=recent.errors / recent.requests if recent.requests else 0.0,
        latency=hour,
        today_tokens=today.prompt_tokens + today.completion_tokens,
        today_spend=[(cost, currency) for currency, cost in spend.items()],
        today_unpriced=today.unpriced_requests,
    )


async def _traffic(nc: Client, now: datetime, scope: UsageFilter) -> Traffic:
    """Traffic within `scope`: everything for admins, the own team for others."""
    now_ms = int(now.timestamp() * 1000)
    midnight_ms = int(now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp() * 1000)
    hour = _total(await _summary(nc, scope, now_ms - LATENCY_WINDOW_S * 1000))
    since_ms = min(midnight_ms, rate_window_start_ms(now_ms))
    minutes = await _summary(nc, scope, since_ms, bucket="minute", limit=_MINUTES_PER_DAY + 10)
    return traffic_of(minutes, hour, now_ms, midnight_ms)


async def _live(request: Request) -> dict[str, Any]:
    store = store_of(request)
    nc: Client = request.app.state.nc
    now = utc_now()
    prices = {p.model for p in store.all(PRICES)}
    models = store.all(MODELS)
    traffic: Traffic | None = None
    near: list[BudgetUse] = []
    unavailable = ""
    try:
        # Budgets first, traffic last: a row metering stores in between shows in the traffic
        # too, so an alarm about spend never sits beside tiles that miss it.
        identity = session.current(request)
        # Budgets belong to keys, teams and orgs of every team: an admin's alarm.
        if read_scope.reads_everything(identity):
            near = [use for use in await budget_uses(nc, store, now) if use.near_limit]
        scope = read_scope.usage_filter(identity, UsageFilter())
        traffic = await _traffic(nc, now, scope)
    except TollwayError as exc:
        unavailable = exc.message
    return {
        "counts": {
            "keys": sum(1 for k in store.all(KEYS) if k.usable_at(time.time())),
            "teams": len(store.all(TEAMS)),
            "orgs": len(store.all(ORGS)),
            "models": len(models),
        },
        "traffic": traffic,
        "near_budgets": near,
        "unavailable": unavailable,
        "unpriced": [m.name for m in models if m.name not in prices],
        "unhealthy": board_of(request).unhealthy(models, int(now.timestamp() * 1000)),
        "nats_connected": bool(nc.is_connected),
        "replicas": request.app.state.presence.replicas(),
        "now_ms": int(now.timestamp() * 1000),
    }


@router.get("")
async def overview(request: Request) -> Response:
    return page(request, "overview.html", "Overview", **await _live(request))


@router.get("/overview/live")
async def overview_live(request: Request) -> Response:
    """The overview's figures alone, which the page fetches every few seconds."""
    return page(request, "partials/overview_live.html", "Overview", **await _live(request))
