"""The admin UI's pages. Every change goes through the same functions as the JSON API, so
the UI cannot do what the API would refuse, and every change is audited the same way."""

from __future__ import annotations

import difflib
import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from tollway_admin.analytics_client import ask
from tollway_admin.resources import BUDGETS, KEYS, MODELS, ORGS, PRICES, TEAMS, Resource
from tollway_admin.routes import keys as key_api
from tollway_admin.routes import usage as usage_api
from tollway_admin.routes.common import refuse_new_problems, store_of
from tollway_admin.store_history import revisions
from tollway_admin.ui import session
from tollway_admin.ui.charts import bar_chart
from tollway_common.contract import (
    AuditEvent,
    AuditQuery,
    AuditReply,
    SummaryQuery,
    SummaryReply,
    SummaryRow,
    UsageFilter,
)
from tollway_common.control import KeyRecord, Limits, Policy
from tollway_common.errors import InvalidRequest, TollwayError

router = APIRouter(prefix="/admin", include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _status(key: KeyRecord) -> str:
    now = time.time()
    if key.revoked_at and key.revoked_at <= now:
        return "revoked"
    if key.expires_at and key.expires_at <= now:
        return "expired"
    return "active"


def _limits(limits: Limits) -> str:
    parts = [f"{limits.rpm} rpm" if limits.rpm else "", f"{limits.tpm} tpm" if limits.tpm else ""]
    return ", ".join(p for p in parts if p) or "—"


def _uptime(ms: int) -> str:
    minutes, _ = divmod(max(ms, 0) // 1000, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if days else (f"{hours}h {minutes}m" if hours else f"{minutes}m")


def _page(request: Request, template: str, active: str, **context: Any) -> Response:
    identity = session.current(request)
    context.setdefault("error", request.query_params.get("error"))
    context.setdefault("notice", request.query_params.get("notice"))
    return templates.TemplateResponse(
        request,
        template,
        {
            "identity": identity,
            "csrf": session.csrf_token(request),
            "active": active,
            "can_write": identity.can_write,
            "status": _status,
            "limits": _limits,
            "uptime": _uptime,
            **context,
        },
    )


def _back(path: str, *, error: str = "", notice: str = "") -> RedirectResponse:
    query = f"?error={quote(error)}" if error else (f"?notice={quote(notice)}" if notice else "")
    return RedirectResponse(path + query, status_code=303)


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    values = {name: str(value) for name, value in form.items()}
    session.check_csrf(request, values.pop("csrf", ""))
    return values


@router.get("/login")
async def login_page(request: Request) -> Response:
    return templates.TemplateResponse(
        request,
        "login.html",
        {
            "identity": None,
            "error": request.query_params.get("error"),
            "notice": request.query_params.get("notice"),
            "oidc": request.app.state.oidc_login is not None,
        },
    )


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    try:
        await session.sign_in(request, str(form.get("token", "")))
    except TollwayError as exc:
        return _back("/admin/login", error=exc.message)
    return _back("/admin")


@router.post("/logout")
async def logout(request: Request) -> Response:
    await _form(request)
    session.sign_out(request)
    return _back("/admin/login", notice="Signed out.")


@router.get("")
async def overview(request: Request) -> Response:
    store = store_of(request)
    now = time.time()
    prices = {p.model for p in store.all(PRICES)}
    models = store.all(MODELS)
    counts = {
        "keys": sum(1 for k in store.all(KEYS) if k.usable_at(now)),
        "teams": len(store.all(TEAMS)),
        "orgs": len(store.all(ORGS)),
        "models": len(models),
    }
    return _page(
        request,
        "overview.html",
        "Overview",
        counts=counts,
        unpriced=[m.name for m in models if m.name not in prices],
        nats_connected=bool(request.app.state.nc.is_connected),
        replicas=request.app.state.presence.replicas(),
        now_ms=int(now * 1000),
    )


def _keys_context(request: Request) -> dict[str, Any]:
    store = store_of(request)
    query = request.query_params.get("q", "")
    show_all = request.query_params.get("all") == "1"
    now = time.time()
    keys = [
        key
        for key in store.all(KEYS)
        if (show_all or key.usable_at(now))
        and (not query or query.lower() in key.name.lower() or key.prefix.startswith(query))
    ]
    return {"keys": keys, "teams": store.all(TEAMS), "q": query, "show_all": show_all}


@router.get("/keys")
async def keys_page(request: Request) -> Response:
    return _page(request, "keys.html", "Keys", **_keys_context(request))


def _key_create(values: dict[str, str]) -> key_api.KeyCreate:
    models = [m.strip() for m in values.get("models", "").split(",") if m.strip()]
    days = values.get("expires_days", "")
    try:
        return key_api.KeyCreate(
            name=values.get("name", ""),
            team_id=values.get("team_id", ""),
            expires_at=int(time.time() + int(days) * 86400) if days else 0,
            policy=Policy(allow_models=models or None),
            limits=Limits(
                rpm=int(values["rpm"]) if values.get("rpm") else None,
                tpm=int(values["tpm"]) if values.get("tpm") else None,
            ),
        )
    except (ValidationError, ValueError) as exc:
        raise InvalidRequest(f"The key form is not valid: {exc}") from None


@router.post("/keys")
async def create_key(request: Request) -> Response:
    identity = session.current(request)
    values = await _form(request)
    try:
        created = await key_api.create_key(_key_create(values), request, identity)
    except TollwayError as exc:
        return _page(request, "keys.html", "Keys", error=exc.message, **_keys_context(request))
    return _page(request, "keys.html", "Keys", created=created, **_keys_context(request))


@router.post("/keys/{key_id}/rotate")
async def rotate_key(key_id: str, request: Request) -> Response:
    identity = session.current(request)
    await _form(request)
    try:
        created = await key_api.rotate_key(key_id, request, identity, None)
    except TollwayError as exc:
        return _back("/admin/keys", error=exc.message)
    return _page(request, "keys.html", "Keys", created=created, **_keys_context(request))


@router.post("/keys/{key_id}/revoke")
async def revoke_key(key_id: str, request: Request) -> Response:
    identity = session.current(request)
    await _form(request)
    try:
        revoked = await key_api.revoke_key(key_id, request, identity)
    except TollwayError as exc:
        return _back("/admin/keys", error=exc.message)
    return _back("/admin/keys", notice=f"Key {revoked['name']} revoked.")


@router.get("/teams")
async def teams_page(request: Request) -> Response:
    store = store_of(request)
    counts: dict[str, int] = {}
    for key in store.all(KEYS):
        counts[key.team_id] = counts.get(key.team_id, 0) + 1
    return _page(
        request,
        "teams.html",
        "Teams",
        orgs=store.all(ORGS),
        teams=store.all(TEAMS),
        key_counts=counts,
    )


async def _create_record(
    request: Request, resource: Resource[Any], field: str, back: str = "/admin/teams"
) -> Response:
    identity = session.current(request)
    # Empty form fields mean "not set".
    values = {name: value for name, value in (await _form(request)).items() if value != ""}
    if not identity.can_write(None):
        return _back(back, error="Creating this needs the 'admin' role.")
    if "created_at" in resource.record_type.model_fields:
        values["created_at"] = str(int(time.time()))
    try:
        record = resource.record_type.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        return _back(back, error=f"{'.'.join(map(str, first['loc']))}: {first['msg']}")
    public_id = resource.public_id(record)
    store = store_of(request)
    before = store.state()
    after = before.with_(**{field: {**getattr(before, field), public_id: record}})
    try:
        refuse_new_problems(before, after, conflict=False)
        await store.create(resource, record, identity.actor)
    except TollwayError as exc:
        return _back(back, error=exc.message)
    return _back(back, notice=f"{resource.kind.title()} {public_id} created.")


@router.post("/orgs")
async def create_org(request: Request) -> Response:
    return await _create_record(request, ORGS, "orgs")


@router.post("/teams")
async def create_team(request: Request) -> Response:
    return await _create_record(request, TEAMS, "teams")


@router.get("/budgets")
async def budgets_page(request: Request) -> Response:
    store = store_of(request)
    owners: dict[str, list[str]] = {}
    for label, records in (
        ("org", store.all(ORGS)),
        ("team", store.all(TEAMS)),
        ("key", store.all(KEYS)),
    ):
        for record in records:
            name = getattr(record, "name", "") if label == "key" else getattr(record, f"{label}_id")
            for budget_id in record.budget_ids:
                owners.setdefault(budget_id, []).append(f"{label} {name}")
    return _page(
        request,
        "budgets.html",
        "Budgets",
        budgets=store.all(BUDGETS),
        models=store.all(MODELS),
        owners=owners,
    )


@router.post("/budgets")
async def create_budget(request: Request) -> Response:
    return await _create_record(request, BUDGETS, "budgets", back="/admin/budgets")


_GROUP_LABELS = {
    "team_id": "Team",
    "key_id": "Key",
    "model_alias": "Model",
    "provider": "Provider",
    "org_id": "Organisation",
    "user_id": "User",
}


def _usage_filter(request: Request) -> tuple[UsageFilter, int]:
    params = request.query_params
    hours = int(params.get("hours", "24") or 24)
    since = int((time.time() - hours * 3600) * 1000)
    return (
        UsageFilter(
            since_ms=since,
            team_id=params.get("team_id", ""),
            model_alias=params.get("model_alias", ""),
        ),
        hours,
    )


@router.get("/usage")
async def usage_page(request: Request) -> Response:
    session.current(request)
    flt, hours = _usage_filter(request)
    group_by = request.query_params.get("group_by", "team_id")
    if group_by not in _GROUP_LABELS:
        group_by = "team_id"
    rows: list[SummaryRow] = []
    unavailable = ""
    try:
        query = SummaryQuery(filter=flt, group_by=group_by, order_by="cost", limit=50)
        rows = (await ask(request.app.state.nc, "summary", query, SummaryReply)).rows
    except TollwayError as exc:
        unavailable = exc.message
    labels = [row.group or "(none)" for row in rows]
    export = urlencode(
        {"since_ms": flt.since_ms, "team_id": flt.team_id, "model_alias": flt.model_alias}
    )
    return _page(
        request,
        "usage.html",
        "Usage",
        rows=rows,
        hours=hours,
        group_by=group_by,
        group_label=_GROUP_LABELS[group_by],
        team_id=flt.team_id,
        model_alias=flt.model_alias,
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
    )


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
    flt = UsageFilter(
        since_ms=int(params.get("since_ms", "0") or 0),
        team_id=params.get("team_id", ""),
        model_alias=params.get("model_alias", ""),
    )
    return await usage_api.export_usage(request, identity, flt, fmt)


def _when(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


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
    session.current(request)
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
    return _page(
        request,
        "audit.html",
        "Audit log",
        events=events,
        resource_type=query.resource_type,
        actor_id=query.actor_id,
        unavailable=unavailable,
        when=_when,
        changes=_changes,
    )


@router.get("/audit/export")
async def audit_export(request: Request) -> Response:
    return await usage_api.export_audit(request, session.current(request))


@router.get("/models")
async def models_page(request: Request) -> Response:
    store = store_of(request)
    prices = {price.model: price for price in store.all(PRICES)}
    return _page(request, "models.html", "Models", models=store.all(MODELS), prices=prices)


def _pretty(record: Any) -> str:
    return json.dumps(record.model_dump(mode="json"), indent=2, sort_keys=True)


@router.get("/models/{name:path}/history")
async def model_history(name: str, request: Request) -> Response:
    found = await revisions(store_of(request), MODELS, name)
    shown = []
    for index, (revision, record) in enumerate(found):
        older = found[index + 1][1] if index + 1 < len(found) else None
        diff = ""
        if older is not None:
            diff = "\n".join(
                difflib.unified_diff(
                    _pretty(older).splitlines(), _pretty(record).splitlines(), lineterm="", n=2
                )
            )
        shown.append((revision, _pretty(record), diff))
    return _page(request, "model_history.html", "Models", name=name, revisions=shown)


@router.post("/models/{name:path}/rollback")
async def model_rollback(name: str, request: Request) -> Response:
    identity = session.current(request)
    values = await _form(request)
    back = f"/admin/models/{quote(name)}/history"
    if not identity.can_write(None):
        return _back(back, error="Rolling back needs the 'admin' role.")
    store = store_of(request)
    wanted = {rev: record for rev, record in await revisions(store, MODELS, name)}
    target = wanted.get(int(values.get("revision", "0") or 0))
    if target is None:
        return _back(back, error="That revision is no longer kept.")
    try:
        _, current_revision = await store.read(MODELS, name)
        before = store.state()
        after = before.with_(models={**before.models, name: target})
        refuse_new_problems(before, after, conflict=False)
        await store.replace(MODELS, target, current_revision, identity.actor)
    except TollwayError as exc:
        return _back(back, error=exc.message)
    return _back(back, notice=f"{name} rolled back to revision {values['revision']}.")
