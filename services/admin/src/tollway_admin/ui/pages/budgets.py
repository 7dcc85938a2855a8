"""Budgets: who uses each one, how far each owner has burnt through it this period, and a form
for a new one."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from markupsafe import Markup
from starlette.responses import Response

from tollway_admin.budget_use import BudgetUse, BurnDown, burn_downs, utc_now
from tollway_admin.resources import BUDGETS, KEYS, MODELS, ORGS, TEAMS
from tollway_admin.routes.common import store_of
from tollway_admin.ui.charts import burn_down_chart
from tollway_admin.ui.forms import create_record
from tollway_admin.ui.render import page
from tollway_common.errors import TollwayError

router = APIRouter(prefix="/admin", include_in_schema=False)


@dataclass(frozen=True, slots=True)
class BurnFigure:
    use: BudgetUse
    chart: Markup


def _figure(burn: BurnDown, now_ms: int) -> BurnFigure:
    use, budget = burn.use, burn.use.budget
    title = (
        f"Burn-down of budget {budget.budget_id} for {use.owner.label}: "
        f"{use.spent:.4f} of {budget.amount} {budget.currency} spent this period"
    )
    chart = burn_down_chart(
        title,
        [(millis, float(total)) for millis, total in burn.points],
        start_ms=use.period_start_ms,
        end_ms=burn.period_end_ms,
        now_ms=now_ms,
        limit=float(budget.amount),
    )
    return BurnFigure(use, chart)


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
    now = utc_now()
    now_ms = int(now.timestamp() * 1000)
    figures: list[BurnFigure] = []
    unavailable = ""
    try:
        burns = await burn_downs(request.app.state.nc, store, now)
        figures = [_figure(burn, now_ms) for burn in burns]
    except TollwayError as exc:
        unavailable = exc.message
    return page(
        request,
        "budgets.html",
        "Budgets",
        budgets=store.all(BUDGETS),
        models=store.all(MODELS),
        owners=owners,
        figures=figures,
        unavailable=unavailable,
    )


@router.post("/budgets")
async def create_budget(request: Request) -> Response:
    return await create_record(request, BUDGETS, "budgets", "/admin/budgets")
