"""Models and routes: aliases with their deployments, prices and live deployment health (with
the operator's disable/enable switch), OAuth accounts' token health and counts per state, each
alias's change history from KV with a diff per revision, and rollback to an earlier revision."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import Response

from tollway_admin.resources import MODELS, PRICES
from tollway_admin.routes.common import refuse_new_problems, store_of
from tollway_admin.routes.deployment_health import board_of
from tollway_admin.store_history import revisions
from tollway_admin.ui import session
from tollway_admin.ui.forms import read_form
from tollway_admin.ui.render import back, page, pretty, record_diff, when
from tollway_common.contract import DeploymentHealth, HealthState
from tollway_common.control import Deployment, ModelAlias
from tollway_common.errors import TollwayError

router = APIRouter(prefix="/admin", include_in_schema=False)


def _state_label(record: DeploymentHealth) -> str:
    if record.state is HealthState.RATE_LIMITED:
        now_ms = int(time.time() * 1000)
        if record.until_ms > now_ms:
            return f"rate limited until {when(record.until_ms)} UTC"
        return "rate limited; next request probes it"
    return record.state.value


def count_lines(counts: dict[str, dict[str, int]]) -> list[str]:
    """`{"deployments": {"active": 3, "invalid": 1, ...}}` as "deployments: 3 active, 1
    invalid"; states nobody is in are left out, a level with nothing in it is left out."""
    lines = []
    for level, states in counts.items():
        shown = [f"{n} {state.replace('_', ' ')}" for state, n in states.items() if n]
        if shown:
            lines.append(f"{level.replace('_', ' ')}: {', '.join(shown)}")
    return lines


def _deployment_of(model: ModelAlias, name: str) -> Deployment | None:
    return next((d for d in model.deployments if d.name == name), None)


def _models_context(request: Request) -> dict[str, Any]:
    store = store_of(request)
    models = store.all(MODELS)
    board = board_of(request)
    return {
        "models": models,
        "prices": {price.model: price for price in store.all(PRICES)},
        "health": {model.name: board.states(model) for model in models},
        "accounts": {model.name: board.accounts(model) for model in models},
        "count_lines": count_lines(board.counts(models, int(time.time() * 1000))),
        "state_label": _state_label,
        "deployment_of": _deployment_of,
    }


@router.get("/models")
async def models_page(request: Request) -> Response:
    return page(request, "models.html", "Models", **_models_context(request))


@router.get("/models/table")
async def models_table(request: Request) -> Response:
    """The models table alone, which the page fetches every few seconds."""
    return page(request, "partials/models_table.html", "Models", **_models_context(request))


async def _switch(request: Request, name: str, deployment: str, state: HealthState) -> Response:
    identity = session.current(request)
    values = await read_form(request)
    if not identity.can_write(None):
        return back("/admin/models", error="Switching a deployment needs the 'admin' role.")
    model = store_of(request).find(MODELS, name)
    if model is None:
        return back("/admin/models", error=f"There is no model '{name}'.")
    credential = values.get("credential", "")
    try:
        await board_of(request).switch(
            model,
            deployment,
            state,
            identity.actor,
            reason=values.get("reason", ""),
            credential=credential,
        )
    except TollwayError as exc:
        return back("/admin/models", error=exc.message)
    what = f"{deployment} ({credential})" if credential else deployment
    done = "disabled" if state is HealthState.INACTIVE else "enabled"
    return back("/admin/models", notice=f"{what} of {name} {done}.")


@router.post("/models/{name:path}/deployments/{deployment}/disable")
async def disable_deployment(name: str, deployment: str, request: Request) -> Response:
    return await _switch(request, name, deployment, HealthState.INACTIVE)


@router.post("/models/{name:path}/deployments/{deployment}/enable")
async def enable_deployment(name: str, deployment: str, request: Request) -> Response:
    return await _switch(request, name, deployment, HealthState.ACTIVE)


@router.get("/models/{name:path}/history")
async def model_history(name: str, request: Request) -> Response:
    found = await revisions(store_of(request), MODELS, name)
    shown = []
    for index, (revision, record) in enumerate(found):
        older = found[index + 1][1] if index + 1 < len(found) else None
        diff = record_diff(older, record) if older is not None else ""
        shown.append((revision, pretty(record), diff))
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
