"""Users: who they are, their team and organisation, the budgets that apply to them and what
they spent this month; a form for a new one (through the API's create)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from tollway_admin import read_scope
from tollway_admin.analytics_client import ask
from tollway_admin.resources import ORGS, TEAMS, USERS
from tollway_admin.routes import records
from tollway_admin.routes.common import store_of
from tollway_admin.security import AdminIdentity, Role
from tollway_admin.ui import session
from tollway_admin.ui.forms import first_error, read_form
from tollway_admin.ui.render import back, page
from tollway_common.contract import SummaryQuery, SummaryReply, UsageFilter
from tollway_common.control import UserRecord
from tollway_common.errors import TollwayError

router = APIRouter(prefix="/admin", include_in_schema=False)


def visible_team(identity: AdminIdentity) -> str | None:
    """The one team a team admin (with no wider role) may see; None for everyone."""
    if identity.roles & {Role.ADMIN, Role.VIEWER}:
        return None
    return identity.team_id if Role.TEAM_ADMIN in identity.roles else None


async def _spent_this_month(request: Request) -> tuple[dict[str, Decimal], str]:
    """Spend per user since the first of the month (UTC): one grouped query for the page,
    narrowed to the reader's team unless it reads everything (read_scope)."""
    start = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    month = UsageFilter(since_ms=int(start.timestamp() * 1000))
    try:
        scope = read_scope.usage_filter(session.current(request), month)
    except TollwayError:
        return {}, ""
    query = SummaryQuery(
        filter=scope,
        group_by="user_id",
        order_by="cost",
        limit=10_000,
    )
    try:
        rows = (await ask(request.app.state.nc, "summary", query, SummaryReply)).rows
    except TollwayError as exc:
        return {}, exc.message
    spent: dict[str, Decimal] = {}
    for row in rows:
        spent[row.group] = spent.get(row.group, Decimal(0)) + Decimal(row.cost)
    return spent, ""


async def _context(request: Request) -> dict[str, Any]:
    store = store_of(request)
    team = visible_team(session.current(request))
    users = [u for u in store.all(USERS) if team is None or u.team_id == team]
    teams = {t.team_id: t for t in store.all(TEAMS)}
    orgs = {o.org_id: o for o in store.all(ORGS)}
    # A user spends against their team's and their organisation's budgets.
    budgets = {
        u.user_id: [
            *(teams[u.team_id].budget_ids if u.team_id in teams else []),
            *(orgs[u.org_id].budget_ids if u.org_id in orgs else []),
        ]
        for u in users
    }
    spent, unavailable = await _spent_this_month(request)
    return {
        "users": users,
        "teams": [t for t in teams.values() if team is None or t.team_id == team],
        "orgs": list(orgs.values()),
        "budgets": budgets,
        "spent": spent,
        "unavailable": unavailable,
    }


@router.get("/users")
async def users_page(request: Request) -> Response:
    return page(request, "users.html", "Users", **await _context(request))


@router.post("/users")
async def create_user(request: Request) -> Response:
    identity = session.current(request)
    # Empty form fields mean "not set".
    values = {name: value for name, value in (await read_form(request)).items() if value != ""}
    if not identity.can_write(None):
        return back("/admin/users", error="Creating a user needs the 'admin' role.")
    try:
        body = UserRecord.model_validate(values)
        await records.create(request, USERS, body, identity)
    except ValidationError as exc:
        return back("/admin/users", error=first_error(exc))
    except TollwayError as exc:
        return back("/admin/users", error=exc.message)
    return back("/admin/users", notice=f"User {body.user_id} created.")
