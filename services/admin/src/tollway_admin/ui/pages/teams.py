"""Organisations and teams: list with their policies, limits, budgets and keys; create (the
policy editor is `policy_edit.py`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from tollway_admin.resources import KEYS, ORGS, TEAMS
from tollway_admin.routes.common import store_of
from tollway_admin.ui.forms import create_record
from tollway_admin.ui.policy_form import policy_text
from tollway_admin.ui.render import page

router = APIRouter(prefix="/admin", include_in_schema=False)


@router.get("/teams")
async def teams_page(request: Request) -> Response:
    store = store_of(request)
    counts: dict[str, int] = {}
    for key in store.all(KEYS):
        counts[key.team_id] = counts.get(key.team_id, 0) + 1
    return page(
        request,
        "teams.html",
        "Teams",
        orgs=store.all(ORGS),
        teams=store.all(TEAMS),
        key_counts=counts,
        policy=policy_text,
    )


@router.post("/orgs")
async def create_org(request: Request) -> Response:
    return await create_record(request, ORGS, "orgs", "/admin/teams")


@router.post("/teams")
async def create_team(request: Request) -> Response:
    return await create_record(request, TEAMS, "teams", "/admin/teams")
