"""Models and routes: aliases with their deployments and prices, each alias's change history
from KV with a diff per revision, and rollback to an earlier revision."""

from __future__ import annotations

import difflib
import json
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import Response

from tollway_admin.resources import MODELS, PRICES
from tollway_admin.routes.common import refuse_new_problems, store_of
from tollway_admin.store_history import revisions
from tollway_admin.ui import session
from tollway_admin.ui.forms import read_form
from tollway_admin.ui.render import back, page
from tollway_common.errors import TollwayError

router = APIRouter(prefix="/admin", include_in_schema=False)


@router.get("/models")
async def models_page(request: Request) -> Response:
    store = store_of(request)
    prices = {price.model: price for price in store.all(PRICES)}
    return page(request, "models.html", "Models", models=store.all(MODELS), prices=prices)


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
    return page(request, "model_history.html", "Models", name=name, revisions=shown)


@router.post("/models/{name:path}/rollback")
async def model_rollback(name: str, request: Request) -> Response:
    identity = session.current(request)
    values = await read_form(request)
    back_to = f"/admin/models/{quote(name)}/history"
    if not identity.can_write(None):
        return back(back_to, error="Rolling back needs the 'admin' role.")
    store = store_of(request)
    wanted = {rev: record for rev, record in await revisions(store, MODELS, name)}
    target = wanted.get(int(values.get("revision", "0") or 0))
    if target is None:
        return back(back_to, error="That revision is no longer kept.")
    try:
        _, current_revision = await store.read(MODELS, name)
        before = store.state()
        after = before.with_(models={**before.models, name: target})
        refuse_new_problems(before, after, conflict=False)
        await store.replace(MODELS, target, current_revision, identity.actor)
    except TollwayError as exc:
        return back(back_to, error=exc.message)
    return back(back_to, notice=f"{name} rolled back to revision {values['revision']}.")
