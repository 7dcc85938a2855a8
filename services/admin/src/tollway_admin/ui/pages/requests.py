"""The request log: recent requests filtered by key, model, status, time and request id, and one
request's page (attempts, timings, usage, cost, stored events and the redacted bodies)."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from tollway_admin import request_log
from tollway_admin.routes import requests as requests_api
from tollway_admin.ui import session
from tollway_admin.ui.render import page
from tollway_common.contract import UsageFilter, UsageRow
from tollway_common.errors import TollwayError

router = APIRouter(prefix="/admin", include_in_schema=False)

HOURS = ((1, "1 hour"), (24, "24 hours"), (168, "7 days"), (720, "30 days"))
_FILTER_FIELDS = ("key_id", "model_alias", "status", "request_id")
_MAX_FIELD = 200


def _hours(text: str) -> int:
    known = {str(hours) for hours, _ in HOURS}
    return int(text) if text in known else 24


def readable(body: str) -> str:
    """A stored JSON body indented for reading; one cut to the size limit, or a stream's
    assembled text, as it is."""
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body


@router.get("/requests")
async def requests_page(request: Request) -> Response:
    identity = session.current(request)
    params = request.query_params
    fields = {name: params.get(name, "").strip()[:_MAX_FIELD] for name in _FILTER_FIELDS}
    hours = _hours(params.get("hours", ""))
    flt = UsageFilter(
        since_ms=int((time.time() - hours * 3600) * 1000),
        key_id=fields["key_id"],
        model_alias=fields["model_alias"],
    )
    rows: list[dict[str, Any]] = []
    next_cursor: str | None = None
    problem = ""
    try:
        answer = await requests_api.request_page(
            request,
            identity,
            flt,
            status=fields["status"],
            request_id=fields["request_id"],
            cursor=params.get("cursor", "")[:_MAX_FIELD],
        )
        rows, next_cursor = answer["data"], answer["next_cursor"]
    except TollwayError as exc:
        problem = exc.message
    next_query = urlencode({**fields, "hours": hours, "cursor": next_cursor}) if next_cursor else ""
    return page(
        request,
        "requests.html",
        "Requests",
        rows=[UsageRow.model_validate(row) for row in rows],
        hours=hours,
        hour_choices=HOURS,
        fields=fields,
        next_query=next_query,
        unavailable=problem,
    )


@router.get("/requests/{request_id}")
async def request_page(request: Request, request_id: str) -> Response:
    identity = session.current(request)
    detail: dict[str, Any] | None = None
    problem = ""
    try:
        detail = await requests_api.request_detail(request, identity, request_id[:_MAX_FIELD])
    except TollwayError as exc:
        problem = exc.message
    usage = UsageRow.model_validate(detail["usage"]) if detail and detail["usage"] else None
    return page(
        request,
        "request_detail.html",
        "Requests",
        request_id=request_id[:_MAX_FIELD],
        detail=detail,
        usage=usage,
        attempts=request_log.attempts_of(usage) if usage else [],
        readable=readable,
        unavailable=problem,
    )
