"""The request log: recent requests by key, model, status, time and request id, and one
request's attempts, timings, usage, cost and (where its policy logged them) redacted bodies."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from tollway_admin import read_scope, request_log
from tollway_admin.analytics_client import ask
from tollway_admin.routes.filters import RequestLogFilter
from tollway_admin.security import AdminIdentity, Viewer
from tollway_common.contract import (
    RequestDetailQuery,
    RequestDetailReply,
    RequestLogQuery,
    RequestLogReply,
    UsageFilter,
)
from tollway_common.errors import NotFound

router = APIRouter(prefix="/api/v1", tags=["requests"])


async def request_page(
    request: Request,
    identity: AdminIdentity,
    flt: UsageFilter,
    *,
    status: str = "",
    request_id: str = "",
    limit: int = request_log.DEFAULT_PAGE,
    cursor: str = "",
) -> dict[str, Any]:
    """One page of the log in the identity's scope (the API and the UI page share it)."""
    before_ms, before_id = request_log.parse_cursor(cursor)
    query = RequestLogQuery(
        filter=read_scope.usage_filter(identity, flt),
        status=request_log.checked_status(status),
        request_id_prefix=request_log.checked_request_id(request_id) if request_id else "",
        limit=limit,
        before_ms=before_ms,
        before_request_id=before_id,
    )
    rows = (await ask(request.app.state.nc, "requests", query, RequestLogReply)).rows
    return {
        "object": "list",
        "data": [row.model_dump(mode="json") for row in rows],
        "next_cursor": request_log.cursor_of(rows[-1]) if len(rows) == limit else None,
    }


async def request_detail(
    request: Request, identity: AdminIdentity, request_id: str
) -> dict[str, Any]:
    query = RequestDetailQuery(
        request_id=request_log.checked_request_id(request_id),
        filter=read_scope.usage_filter(identity, UsageFilter()),
    )
    reply = await ask(request.app.state.nc, "request", query, RequestDetailReply)
    view = request_log.detail_view(request_id, reply)
    if view is None:
        raise NotFound(
            f"No request '{request_id}' is stored that you may read: it may be older than the "
            "retention, not metered yet (a second or two), or another team's."
        )
    return view


@router.get("/requests")
async def list_requests(
    request: Request,
    identity: Viewer,
    flt: RequestLogFilter,
    status: Annotated[str, Query(max_length=8)] = "",
    request_id: Annotated[str, Query(max_length=128)] = "",
    limit: Annotated[int, Query(ge=1, le=request_log.MAX_PAGE)] = request_log.DEFAULT_PAGE,
    cursor: Annotated[str, Query(max_length=160)] = "",
) -> dict[str, Any]:
    """Recent requests, newest first. `status` is a code (`429`) or a class (`2xx`, `4xx`,
    `5xx`, `ok`, `error`); `request_id` matches the start of an id; pass `next_cursor` back as
    `cursor` for the next page."""
    return await request_page(
        request,
        identity,
        flt,
        status=status,
        request_id=request_id,
        limit=limit,
        cursor=cursor,
    )


@router.get("/requests/{request_id}")
async def get_request(
    request: Request,
    identity: Viewer,
    request_id: Annotated[str, Path(max_length=128)],
) -> dict[str, Any]:
    """One request: its billed usage and cost, timings, upstream attempts, every stored usage
    event (the router's, and the edge's estimate where a router died) and, where its policy
    logged them, the redacted request and response bodies."""
    return await request_detail(request, identity, request_id)
