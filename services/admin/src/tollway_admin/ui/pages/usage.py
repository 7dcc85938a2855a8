"""The usage explorer: cost and requests grouped by team, key, model, provider, org, user,
deployment or credential over a time window (keys, teams, users and orgs by name, their ids on
hover), requests, tokens and cost per hour or day, with CSV, JSON lines and FOCUS exports."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from tollway_admin import read_scope
from tollway_admin.analytics_client import ask
from tollway_admin.routes import usage as usage_api
from tollway_admin.routes.common import store_of
from tollway_admin.routes.filters import MAX_PAGE_ROWS
from tollway_admin.ui import session, usage_names
from tollway_admin.ui.charts import STACK_SERIES, bar_chart, stacked_bar_chart
from tollway_admin.ui.form_values import FieldErrors
from tollway_admin.ui.forms import form_page
from tollway_admin.ui.usage_filter import (
    DEFAULT_HOURS,
    FILTER_FIELDS,
    HOURS,
    export_filter,
    window_filter,
)
from tollway_common.contract import SummaryQuery, SummaryReply, SummaryRow, UsageFilter
from tollway_common.errors import InvalidRequest, TollwayError

router = APIRouter(prefix="/admin", include_in_schema=False)

_GROUP_LABELS = {
    "team_id": "Team",
    "key_id": "Key",
    "model_alias": "Model",
    "provider": "Provider",
    "org_id": "Organisation",
    "user_id": "User",
    "deployment": "Deployment",
    "credential": "Credential",
}


def _echoed(request: Request) -> dict[str, str]:
    """The filter's fields as typed, to show again (cut: a refused value needs no more)."""
    return {field: request.query_params.get(field, "")[:256] for field in FILTER_FIELDS}


@router.get("/usage")
async def usage_page(request: Request) -> Response:
    identity = session.current(request)
    values = _echoed(request)
    group_by = request.query_params.get("group_by", "team_id")
    if group_by not in _GROUP_LABELS:
        group_by = "team_id"
    rows: list[SummaryRow] = []
    over_time: list[SummaryRow] = []
    hours = DEFAULT_HOURS
    unavailable = ""
    problem: FieldErrors | None = None
    try:
        flt, hours = window_filter(request.query_params, int(time.time() * 1000))
    except FieldErrors as exc:
        flt, problem = UsageFilter(), exc
    bucket = "hour" if hours <= 48 else "day"
    if problem is None:
        try:
            flt = read_scope.usage_filter(identity, flt)
            rows, over_time = await _summaries(request, flt, group_by, bucket)
        except TollwayError as exc:
            unavailable = exc.message
    names = usage_names.names(store_of(request), group_by, [row.group for row in rows])
    labels = [names.get(row.group) or row.group or "(none)" for row in rows]
    leaders = [row.group for row in rows[: STACK_SERIES - 1]]
    split_by = _GROUP_LABELS[group_by].lower()
    export = urlencode(
        {
            "since_ms": flt.since_ms,
            "team_id": flt.team_id,
            "model_alias": flt.model_alias,
            "deployment": flt.deployment,
        }
    )
    return form_page(
        request,
        "usage.html",
        "Usage",
        values,
        problem,
        rows=rows,
        names=names,
        hours=hours,
        hour_choices=HOURS,
        group_by=group_by,
        groups=list(_GROUP_LABELS.items()),
        group_label=_GROUP_LABELS[group_by],
        unavailable=unavailable,
        export_query=export,
        cost_chart=bar_chart(
            f"Cost by {_GROUP_LABELS[group_by].lower()}",
            labels,
            [float(Decimal(row.cost)) for row in rows],
        ),
        requests_chart=bar_chart(
            f"Requests by {_GROUP_LABELS[group_by].lower()}",
            labels,
            [float(row.requests) for row in rows],
        ),
        time_charts=[
            stacked_bar_chart(
                f"{what} per {bucket} by {split_by}",
                *_stacked(over_time, leaders, names, bucket, measure),
            )
            for what, measure in _MEASURES.items()
        ],
    )


async def _summaries(
    request: Request, flt: UsageFilter, group_by: str, bucket: str
) -> tuple[list[SummaryRow], list[SummaryRow]]:
    """The 50 largest spenders, and every group's rows per bucket for the charts over time."""
    leading = SummaryQuery(filter=flt, group_by=group_by, order_by="cost", limit=50)
    rows = (await ask(request.app.state.nc, "summary", leading, SummaryReply)).rows
    split = SummaryQuery(
        filter=flt, group_by=group_by, bucket=bucket, order_by="time", limit=MAX_PAGE_ROWS
    )
    return rows, (await ask(request.app.state.nc, "summary", split, SummaryReply)).rows


# What the charts over time show of each row.
_MEASURES: dict[str, Callable[[SummaryRow], float]] = {
    "Requests": lambda row: float(row.requests),
    "Tokens": lambda row: float(row.prompt_tokens + row.completion_tokens),
    "Cost": lambda row: float(Decimal(row.cost)),
}
# The series of every group outside the leading ones (no group id can hold a NUL).
_REST = "\x00rest"


def _stacked(
    rows: list[SummaryRow],
    leaders: list[str],
    names: dict[str, str],
    bucket: str,
    measure: Callable[[SummaryRow], float],
) -> tuple[list[str], list[tuple[str, list[float]]]]:
    """Bucket labels, and one series per leading group (the largest spenders) plus one for
    all the others, each with a value per bucket."""
    buckets = sorted({row.bucket_ms for row in rows})
    index = {bucket_ms: i for i, bucket_ms in enumerate(buckets)}
    series = {group: [0.0] * len(buckets) for group in [*leaders, _REST]}
    for row in rows:
        group = row.group if row.group in leaders else _REST
        series[group][index[row.bucket_ms]] += measure(row)
    named = [
        ("others" if group == _REST else names.get(group) or group or "(none)", values)
        for group, values in series.items()
        if group != _REST or any(values)
    ]
    return [_bucket_label(b, bucket) for b in buckets], named


def _bucket_label(bucket_ms: int, bucket: str) -> str:
    when = datetime.fromtimestamp(bucket_ms / 1000, UTC)
    return when.strftime("%m-%d %H:00" if bucket == "hour" else "%Y-%m-%d")


@router.get("/usage/export")
async def usage_export(request: Request) -> Response:
    """The API's export, for a signed-in browser (the session stands in for the token)."""
    identity = session.current(request)
    params = request.query_params
    fmt: Literal["csv", "jsonl", "focus"] = "csv"
    if params.get("format") == "jsonl":
        fmt = "jsonl"
    elif params.get("format") == "focus":
        fmt = "focus"
    try:
        flt = export_filter(params)
    except FieldErrors as exc:
        field = next(iter(exc.errors))
        raise InvalidRequest(f"The usage filter is not valid: {exc}", param=field) from None
    return await usage_api.export_usage(request, identity, flt, fmt)
