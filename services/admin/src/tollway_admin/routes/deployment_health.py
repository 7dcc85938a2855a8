"""Deployment health over the API: each deployment's shared state, and the operator's switch.

    GET /api/v1/models/{alias}/health   records, and `tokens`: its OAuth accounts' health
    PUT /api/v1/models/{alias}/deployments/{deployment}/health  {"state": "inactive"}
    GET /api/v1/health/counts           deployments, credentials, OAuth accounts per state

Aliases may contain slashes, so this router is mounted before the models' CRUD router, whose
`/{public_id:path}` would otherwise take these paths.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from tollway_admin.deployment_health import HealthBoard
from tollway_admin.resources import MODELS
from tollway_admin.routes.common import store_of
from tollway_admin.security import Admin, Viewer
from tollway_common.contract import HealthState
from tollway_common.errors import NotFound

router = APIRouter(prefix="/api/v1/models", tags=["models"])
counts_router = APIRouter(prefix="/api/v1/health", tags=["models"])


class HealthChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: Literal["active", "inactive"]
    reason: str = Field(default="", max_length=500)
    credential: str = Field(default="", description="One credential of the pool; empty for all.")


def board_of(request: Request) -> HealthBoard:
    board: HealthBoard = request.app.state.health
    return board


@router.get("/{alias:path}/health")
async def model_health(alias: str, request: Request, identity: Viewer) -> dict[str, Any]:
    model = store_of(request).find(MODELS, alias)
    if model is None:
        raise NotFound(f"There is no model '{alias}'.")
    board = board_of(request)
    data = [record.model_dump(mode="json") for record in board.states(model)]
    tokens = [account.view() for account in board.accounts(model)]
    return {"object": "list", "data": data, "tokens": tokens}


@counts_router.get("/counts")
async def health_counts(request: Request, identity: Viewer) -> dict[str, Any]:
    """Deployments, pool credentials and OAuth accounts of every model, per health state."""
    models = store_of(request).all(MODELS)
    return board_of(request).counts(models, int(time.time() * 1000))


@router.put("/{alias:path}/deployments/{deployment}/health")
async def switch_deployment(
    alias: str, deployment: str, body: HealthChange, request: Request, identity: Admin
) -> dict[str, Any]:
    model = store_of(request).find(MODELS, alias)
    if model is None:
        raise NotFound(f"There is no model '{alias}'.")
    record = await board_of(request).switch(
        model,
        deployment,
        HealthState(body.state),
        identity.actor,
        reason=body.reason,
        credential=body.credential,
    )
    return record.model_dump(mode="json")
