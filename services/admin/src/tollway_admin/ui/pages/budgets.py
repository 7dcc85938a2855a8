"""Budgets: who uses each one, and a form for a new one."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from tollway_admin.resources import BUDGETS, KEYS, MODELS, ORGS, TEAMS
from tollway_admin.routes.common import store_of
from tollway_admin.ui.forms import create_record
from tollway_admin.ui.render import page

router = APIRouter(prefix="/admin", include_in_schema=False)


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
    return page(
        request,
        "budgets.html",
        "Budgets",
        budgets=store.all(BUDGETS),
        models=store.all(MODELS),
        owners=owners,
    )


@router.post("/budgets")
async def create_budget(request: Request) -> Response:
    return await create_record(request, BUDGETS, "budgets", "/admin/budgets")
