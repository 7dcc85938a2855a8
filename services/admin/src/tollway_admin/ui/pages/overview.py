"""The overview: what is running, what it serves, and what needs attention."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from starlette.responses import Response

from tollway_admin.resources import KEYS, MODELS, ORGS, PRICES, TEAMS
from tollway_admin.routes.common import store_of
from tollway_admin.ui.render import page

router = APIRouter(prefix="/admin", include_in_schema=False)


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
    return page(
        request,
        "overview.html",
        "Overview",
        counts=counts,
        unpriced=[m.name for m in models if m.name not in prices],
        nats_connected=bool(request.app.state.nc.is_connected),
        replicas=request.app.state.presence.replicas(),
        now_ms=int(now * 1000),
    )
