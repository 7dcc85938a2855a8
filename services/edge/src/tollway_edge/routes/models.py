"""GET /v1/models and /v1/models/{model}: the aliases the caller's key may use."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from tollway_common.control import ModelAlias
from tollway_edge import policy
from tollway_edge.admission import check_model
from tollway_edge.auth import authenticate
from tollway_edge.runtime import Runtime

router = APIRouter(prefix="/v1")


def _model_object(model: ModelAlias) -> dict[str, Any]:
    return {
        "id": model.name,
        "object": "model",
        "created": model.created,
        "owned_by": model.owned_by,
    }


@router.get("/models")
async def list_models(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    caller = await authenticate(request.headers, runtime.catalog, runtime.oidc)
    rules = policy.effective(caller.levels)
    visible = [
        _model_object(model)
        for model in runtime.catalog.all_models()
        if policy.model_refusal(rules, model.name) is None
    ]
    return Response(
        orjson.dumps({"object": "list", "data": visible}), media_type="application/json"
    )


@router.get("/models/{model_id:path}")
async def retrieve_model(model_id: str, request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    caller = await authenticate(request.headers, runtime.catalog, runtime.oidc)
    check_model(caller, model_id)
    model = runtime.catalog.resolve(model_id)
    return Response(orjson.dumps(_model_object(model)), media_type="application/json")
