"""One key: its owner and status, an edit form for its allowed models, limits and budgets
(through the API's PATCH), its daily requests and cost over the last two weeks, and its client
sessions (per-client concurrency, read from the edges) with a revoke button each."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from tollway_admin import read_scope
from tollway_admin.analytics_client import ask
from tollway_admin.client_sessions import list_sessions
from tollway_admin.resources import BUDGETS, KEYS
from tollway_admin.routes import keys as key_api
from tollway_admin.routes.common import store_of
from tollway_admin.ui import session
from tollway_admin.ui.charts import bar_chart
from tollway_admin.ui.forms import first_error, read_form
from tollway_admin.ui.render import back, page
from tollway_common.contract import (
    ClientSession,
    SummaryQuery,
    SummaryReply,
    SummaryRow,
    UsageFilter,
)
from tollway_common.control import KeyRecord
from tollway_common.errors import InvalidRequest, NotFound, TollwayError

router = APIRouter(prefix="/admin", include_in_schema=False)

CHART_DAYS = 14
# (seconds, label) a client session may be revoked for from this page.
REVOKE_CHOICES = ((900, "15 minutes"), (3600, "1 hour"), (86_400, "1 day"))


async def _daily(request: Request, key_id: str) -> tuple[list[SummaryRow], str]:
    since = int((time.time() - CHART_DAYS * 86400) * 1000)
    query = SummaryQuery(
        filter=UsageFilter(since_ms=since, key_id=key_id), bucket="day", order_by="time"
    )
    try:
        return (await ask(request.app.state.nc, "summary", query, SummaryReply)).rows, ""
    except TollwayError as exc:
        return [], exc.message


async def _sessions(request: Request, key: KeyRecord) -> tuple[list[ClientSession], str]:
    try:
        return await list_sessions(request.app.state.nc, key.key_id), ""
    except TollwayError as exc:
        return [], exc.message


def _find(request: Request, key_id: str) -> KeyRecord:
    key = store_of(request).find(KEYS, key_id)
    if key is None or not read_scope.can_read_key(session.current(request), key):
        raise NotFound(f"There is no key '{key_id}'.")
    return key


@router.get("/keys/{key_id}")
async def key_page(key_id: str, request: Request) -> Response:
    try:
        key = _find(request, key_id)
    except TollwayError as exc:
        return back("/admin/keys", error=exc.message)
    rows, unavailable = await _daily(request, key_id)
    sessions, sessions_unavailable = await _sessions(request, key)
    labels = [datetime.fromtimestamp(r.bucket_ms / 1000, UTC).strftime("%m-%d") for r in rows]
    context: dict[str, Any] = {
        "key": key,
        "budgets": store_of(request).all(BUDGETS),
        "rows": rows,
        "unavailable": unavailable,
        "sessions": sessions,
        "sessions_unavailable": sessions_unavailable,
        "revoke_choices": REVOKE_CHOICES,
        "requests_chart": bar_chart(
            f"Requests per day by {key.name}", labels, [float(r.requests) for r in rows]
        ),
        "cost_chart": bar_chart(
            f"Cost per day by {key.name}", labels, [float(Decimal(r.cost)) for r in rows]
        ),
    }
    return page(request, "key_detail.html", "Keys", **context)


def _update(key: KeyRecord, values: dict[str, str], budget_ids: list[str]) -> key_api.KeyUpdate:
    models = [m.strip() for m in values.get("models", "").split(",") if m.strip()]
    try:
        return key_api.KeyUpdate(
            policy=key.policy.model_copy(update={"allow_models": models or None}),
            limits=key.limits.model_validate(
                {
                    **key.limits.model_dump(),
                    "rpm": int(values["rpm"]) if values.get("rpm") else None,
                    "tpm": int(values["tpm"]) if values.get("tpm") else None,
                }
            ),
            budget_ids=budget_ids,
        )
    except ValidationError as exc:
        raise InvalidRequest(first_error(exc)) from None
    except ValueError:
        raise InvalidRequest("Limits are whole numbers.") from None


@router.post("/keys/{key_id}")
async def edit_key(key_id: str, request: Request) -> Response:
    identity = session.current(request)
    form = await request.form()
    budget_ids = [str(v) for v in form.getlist("budget_ids")]
    values = await read_form(request)
    here = f"/admin/keys/{key_id}"
    try:
        key = _find(request, key_id)
        await key_api.update_key(key_id, _update(key, values, budget_ids), request, identity)
    except TollwayError as exc:
        return back(here, error=exc.message)
    return back(here, notice=f"Key {key.name} saved.")


@router.post("/keys/{key_id}/sessions/{client}/revoke")
async def revoke_session(key_id: str, client: str, request: Request) -> Response:
    identity = session.current(request)
    values = await read_form(request)
    here = f"/admin/keys/{key_id}"
    try:
        seconds = int(values.get("seconds", "900"))
        body = key_api.SessionRevoke(seconds=seconds)
        await key_api.revoke_key_session(key_id, client, request, identity, body)
    except ValueError:
        return back(here, error="Choose how long to revoke the session for.")
    except TollwayError as exc:
        return back(here, error=exc.message)
    return back(here, notice=f"Client {client} refused with this key for {seconds} s.")
