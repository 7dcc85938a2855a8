"""The audit log: recent control-plane changes by resource type and actor, and its export."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from tollway_admin import read_scope
from tollway_admin.analytics_client import ask
from tollway_admin.routes import usage as usage_api
from tollway_admin.ui import session
from tollway_admin.ui.render import page
from tollway_common.contract import AuditEvent, AuditQuery, AuditReply
from tollway_common.errors import TollwayError

router = APIRouter(prefix="/admin", include_in_schema=False)


def _changes(event: AuditEvent) -> str:
    before, after = event.before or {}, event.after or {}
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    if event.before is None:
        return "created"
    if event.after is None:
        return "deleted"
    return ", ".join(f"{k}: {before.get(k)!r} → {after.get(k)!r}" for k in changed[:6])


@router.get("/audit")
async def audit_page(request: Request) -> Response:
    read_scope.check_audit_reader(session.current(request))
    params = request.query_params
    query = AuditQuery(
        resource_type=params.get("resource_type", ""),
        actor_id=params.get("actor_id", ""),
        limit=200,
    )
    events: list[AuditEvent] = []
    unavailable = ""
    try:
        events = (await ask(request.app.state.nc, "audit", query, AuditReply)).events
    except TollwayError as exc:
        unavailable = exc.message
    return page(
        request,
        "audit.html",
        "Audit log",
        events=events,
        resource_type=query.resource_type,
        actor_id=query.actor_id,
        unavailable=unavailable,
        changes=_changes,
    )


@router.get("/audit/export")
async def audit_export(request: Request) -> Response:
    return await usage_api.export_audit(request, session.current(request))
