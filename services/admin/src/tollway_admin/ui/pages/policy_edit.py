"""Edit an organisation's or a team's policy from the browser: allowed and denied models and
endpoints, token caps, body logging, requests and tokens per minute. A preview shows the diff
after the checks the JSON API's PUT runs; Save writes compare-and-set against the revision the
form was opened at."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from tollway_admin.resources import ORGS, TEAMS, Resource
from tollway_admin.routes import records
from tollway_admin.routes.common import store_of
from tollway_admin.ui import session
from tollway_admin.ui.form_values import FieldErrors
from tollway_admin.ui.forms import form_page, form_revision, read_form, require_admin
from tollway_admin.ui.policy_form import policy_values, with_policy
from tollway_admin.ui.render import back, record_diff
from tollway_common.contract import Endpoint
from tollway_common.errors import TollwayError

router = APIRouter(prefix="/admin", include_in_schema=False)


def _render(
    request: Request,
    resource: Resource[Any],
    public_id: str,
    values: dict[str, str],
    problem: Exception | None = None,
    **context: Any,
) -> Response:
    return form_page(
        request,
        "policy_edit.html",
        "Teams",
        values,
        problem,
        kind=resource.kind,
        public_id=public_id,
        endpoints=", ".join(e.value for e in Endpoint),
        **context,
    )


async def _edit_page(request: Request, resource: Resource[Any], public_id: str) -> Response:
    record, revision = await store_of(request).read(resource, public_id)
    values = {**policy_values(record), "revision": str(revision)}
    return _render(request, resource, public_id, values)


async def _edit(request: Request, resource: Resource[Any], public_id: str) -> Response:
    identity = session.current(request)
    values = await read_form(request)
    try:
        require_admin(identity, f"Changing a {resource.kind}'s policy")
        record, _ = await store_of(request).read(resource, public_id)
        edited = with_policy(record, values)
        checked, _ = await records.prepare_replace(request, resource, public_id, edited, identity)
        if values.get("action") != "save":
            diff = record_diff(record, checked)
            return _render(request, resource, public_id, values, diff=diff)
        await records.replace(request, resource, public_id, edited, identity, form_revision(values))
    except (FieldErrors, TollwayError) as exc:
        return _render(request, resource, public_id, values, exc)
    return back("/admin/teams", notice=f"The policy of {resource.kind} {public_id} was saved.")


@router.get("/teams/{team_id}/policy")
async def team_policy_page(team_id: str, request: Request) -> Response:
    return await _edit_page(request, TEAMS, team_id)


@router.post("/teams/{team_id}/policy")
async def team_policy(team_id: str, request: Request) -> Response:
    return await _edit(request, TEAMS, team_id)


@router.get("/orgs/{org_id}/policy")
async def org_policy_page(org_id: str, request: Request) -> Response:
    return await _edit_page(request, ORGS, org_id)


@router.post("/orgs/{org_id}/policy")
async def org_policy(org_id: str, request: Request) -> Response:
    return await _edit(request, ORGS, org_id)
