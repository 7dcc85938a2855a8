"""Keys: list and search, issue (the secret shown once), rotate and revoke."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from tollway_admin import read_scope
from tollway_admin.resources import KEYS, TEAMS
from tollway_admin.routes import keys as key_api
from tollway_admin.routes.common import store_of
from tollway_admin.ui import session
from tollway_admin.ui.forms import read_form
from tollway_admin.ui.render import back, page
from tollway_common.control import Limits, Policy
from tollway_common.errors import InvalidRequest, TollwayError

router = APIRouter(prefix="/admin", include_in_schema=False)


def _keys_context(request: Request) -> dict[str, Any]:
    identity = session.current(request)
    store = store_of(request)
    query = request.query_params.get("q", "")
    show_all = request.query_params.get("all") == "1"
    now = time.time()
    keys = [
        key
        for key in store.all(KEYS)
        if (show_all or key.usable_at(now))
        and (not query or query.lower() in key.name.lower() or key.prefix.startswith(query))
        and read_scope.can_read_key(identity, key)
    ]
    return {"keys": keys, "teams": store.all(TEAMS), "q": query, "show_all": show_all}


@router.get("/keys")
async def keys_page(request: Request) -> Response:
    return page(request, "keys.html", "Keys", **_keys_context(request))


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
    values = await read_form(request)
    try:
        created = await key_api.create_key(_key_create(values), request, identity)
    except TollwayError as exc:
        return page(request, "keys.html", "Keys", error=exc.message, **_keys_context(request))
    return page(request, "keys.html", "Keys", created=created, **_keys_context(request))


@router.post("/keys/{key_id}/rotate")
async def rotate_key(key_id: str, request: Request) -> Response:
    identity = session.current(request)
    await read_form(request)
    try:
        created = await key_api.rotate_key(key_id, request, identity, None)
    except TollwayError as exc:
        return back("/admin/keys", error=exc.message)
    return page(request, "keys.html", "Keys", created=created, **_keys_context(request))


@router.post("/keys/{key_id}/revoke")
async def revoke_key(key_id: str, request: Request) -> Response:
    identity = session.current(request)
    await read_form(request)
    try:
        revoked = await key_api.revoke_key(key_id, request, identity)
    except TollwayError as exc:
        return back("/admin/keys", error=exc.message)
    return back("/admin/keys", notice=f"Key {revoked['name']} revoked.")
