"""The audit log: recent control-plane changes filtered by date, action, actor and kind of
record, and its download (JSON lines or CSV) holding exactly what the filter selects."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from starlette.responses import Response

from tollway_admin import read_scope
from tollway_admin.analytics_client import ask
from tollway_admin.routes import usage as usage_api
from tollway_admin.ui import session
from tollway_admin.ui.audit_filter import (
    FILTER_FIELDS,
    KINDS,
    KNOWN_ACTIONS,
    audit_query,
    filter_query_string,
)
from tollway_admin.ui.form_values import FieldErrors
from tollway_admin.ui.forms import form_page
from tollway_common.contract import AuditEvent, AuditReply
from tollway_common.errors import InvalidRequest, TollwayError

router = APIRouter(prefix="/admin", include_in_schema=False)


def _changes(event: AuditEvent) -> str:
    before, after = event.before or {}, event.after or {}
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    if event.before is None:
        return "created"
    if event.after is None:
        return "deleted"
    return ", ".join(f"{k}: {before.get(k)!r} → {after.get(k)!r}" for k in changed[:6])


def _filter_values(request: Request) -> dict[str, str]:
    return {field: request.query_params.get(field, "")[:256] for field in FILTER_FIELDS}


@router.get("/audit")
async def audit_page(request: Request) -> Response:
    read_scope.check_audit_reader(session.current(request))
    values = _filter_values(request)
    events: list[AuditEvent] = []
    unavailable = ""
    problem: FieldErrors | None = None
    try:
        query = audit_query(values)
        events = (await ask(request.app.state.nc, "audit", query, AuditReply)).events
    except FieldErrors as exc:
        problem = exc
    except TollwayError as exc:
        unavailable = exc.message
    return form_page(
        request,
        "audit.html",
        "Audit log",
        values,
        problem,
        events=events,
        kind_options=[(kind, kind) for kind in KINDS],
        known_actions=KNOWN_ACTIONS,
        download=filter_query_string(values),
        unavailable=unavailable,
        changes=_changes,
    )


@router.get("/audit/export")
async def audit_export(request: Request, format: Literal["jsonl", "csv"] = "jsonl") -> Response:
    identity = session.current(request)
    try:
        query = audit_query(_filter_values(request), limit=usage_api.AUDIT_EXPORT_ROWS)
    except FieldErrors as exc:
        raise InvalidRequest(f"The audit filter is not valid: {exc}") from None
    return await usage_api.audit_download(request, identity, query, format)
