"""Usage, cost and audit for admins: summaries, top spenders, burn-down, and exports."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, Request
from starlette.responses import StreamingResponse

from tollway_admin import exports, read_scope
from tollway_admin.analytics_client import ask, usage_rows
from tollway_admin.routes.filters import (
    MAX_PAGE_ROWS,
    AuditFilter,
    AuditOffset,
    Bucket,
    GroupBy,
    OrderBy,
    PageRows,
    UsageRowFilter,
)
from tollway_admin.security import AdminIdentity, Viewer
from tollway_common.contract import AuditQuery, AuditReply, SummaryQuery, SummaryReply

router = APIRouter(prefix="/api/v1", tags=["usage"])


@router.get("/usage/summary")
async def summary(
    request: Request,
    identity: Viewer,
    flt: UsageRowFilter,
    group_by: GroupBy = "",
    bucket: Bucket = "",
    order_by: OrderBy = "time",
    limit: PageRows = 1000,
) -> dict[str, Any]:
    """Requests, errors, tokens, exact cost, latency and TTFT percentiles, by one dimension
    and/or time bucket, at most `limit` rows. `group_by=team_id&order_by=cost` is the top
    spenders."""
    query = SummaryQuery(
        filter=read_scope.usage_filter(identity, flt),
        group_by=group_by,
        bucket=bucket,
        order_by=order_by,
        limit=limit,
    )
    answer = await ask(request.app.state.nc, "summary", query, SummaryReply)
    return {"object": "list", "data": [row.model_dump(mode="json") for row in answer.rows]}


@router.get("/usage/burn-down")
async def burn_down(
    request: Request, identity: Viewer, flt: UsageRowFilter, bucket: Literal["hour", "day"] = "day"
) -> dict[str, Any]:
    """Cumulative spend of one principal over a period (`since_ms`, ...), a point per bucket."""
    scoped = read_scope.usage_filter(identity, flt)
    query = SummaryQuery(filter=scoped, bucket=bucket, order_by="time", limit=MAX_PAGE_ROWS)
    answer = await ask(request.app.state.nc, "summary", query, SummaryReply)
    total = Decimal(0)
    points = []
    for row in answer.rows:
        total += Decimal(row.cost)
        points.append({"bucket_ms": row.bucket_ms, "cost": row.cost, "cumulative": str(total)})
    return {"object": "list", "data": points}


_MEDIA = {"csv": "text/csv", "jsonl": "application/x-ndjson", "focus": "text/csv"}


@router.get("/usage/export")
async def export_usage(
    request: Request,
    identity: Viewer,
    flt: UsageRowFilter,
    format: Literal["csv", "jsonl", "focus"] = "csv",
) -> StreamingResponse:
    """Every usage row in the range, streamed: CSV, JSON lines, or FOCUS (FinOps) columns."""
    rows = usage_rows(request.app.state.nc, read_scope.usage_filter(identity, flt))
    body = {
        "csv": exports.usage_csv,
        "jsonl": exports.usage_jsonl,
        "focus": exports.usage_focus,
    }[format](rows)
    suffix = "jsonl" if format == "jsonl" else "csv"
    return StreamingResponse(
        body,
        media_type=_MEDIA[format],
        headers={"content-disposition": f'attachment; filename="tollway-usage.{suffix}"'},
    )


@router.get("/audit")
async def audit(
    request: Request,
    identity: Viewer,
    flt: AuditFilter,
    limit: PageRows = 200,
    offset: AuditOffset = 0,
) -> dict[str, Any]:
    """Audit events, newest first, `limit` of them after skipping `offset`."""
    read_scope.check_audit_reader(identity)
    query = flt.model_copy(update={"limit": limit, "offset": offset})
    answer = await ask(request.app.state.nc, "audit", query, AuditReply)
    return {"object": "list", "data": [e.model_dump(mode="json") for e in answer.events]}


@router.get("/audit/export")
async def export_audit(
    request: Request,
    identity: Viewer,
    flt: AuditFilter,
    format: Literal["jsonl", "csv"] = "jsonl",
) -> StreamingResponse:
    """The audit events the filter selects (the same parameters as `GET /audit`), newest first,
    as JSON lines or CSV."""
    query = flt.model_copy(update={"limit": AUDIT_EXPORT_ROWS})
    return await audit_download(request, identity, query, format)


AUDIT_EXPORT_ROWS = 100_000


async def audit_download(
    request: Request, identity: AdminIdentity, query: AuditQuery, format: Literal["jsonl", "csv"]
) -> StreamingResponse:
    """An audit export of what `query` selects; the API's export and the UI's download both
    answer through this."""
    read_scope.check_audit_reader(identity)
    answer = await ask(request.app.state.nc, "audit", query, AuditReply)
    body = (
        exports.audit_csv(answer.events) if format == "csv" else exports.audit_jsonl(answer.events)
    )
    media = "text/csv" if format == "csv" else "application/x-ndjson"
    return StreamingResponse(
        body,
        media_type=media,
        headers={"content-disposition": f'attachment; filename="tollway-audit.{format}"'},
    )
