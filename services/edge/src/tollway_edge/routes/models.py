"""GET /v1/models and /v1/models/{model}: the aliases the caller's key may use, in OpenAI's
list format, or in Anthropic's when the client sends `anthropic-version` (Claude Code and the
anthropic SDKs always do), errors included."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from tollway_common.control import ModelAlias
from tollway_common.errors import InvalidRequest, TollwayError
from tollway_common.http_errors import request_id_of
from tollway_edge import dialects, policy
from tollway_edge.admission import check_model
from tollway_edge.auth import authenticate
from tollway_edge.errors import failure_response
from tollway_edge.runtime import Runtime

router = APIRouter(prefix="/v1")

ANTHROPIC_VERSION_HEADER = "anthropic-version"
# Anthropic's page size: 20 unless `limit` says otherwise, at most 1000.
DEFAULT_PAGE = 20
MAX_PAGE = 1000
_JSON = "application/json"


def _model_object(model: ModelAlias) -> dict[str, Any]:
    return {
        "id": model.name,
        "object": "model",
        "created": model.created,
        "owned_by": model.owned_by,
    }


def anthropic_model(model: ModelAlias) -> dict[str, Any]:
    created = datetime.fromtimestamp(model.created, UTC).isoformat().replace("+00:00", "Z")
    windows = [d.context_window for d in model.deployments if d.context_window is not None]
    return {
        "type": "model",
        "id": model.name,
        "display_name": model.name,
        "created_at": created,
        # The smallest window among its deployments: any of them may serve a request.
        "max_input_tokens": min(windows) if len(windows) == len(model.deployments) else None,
        "max_tokens": None,
        "capabilities": None,
    }


def anthropic_page(
    models: list[ModelAlias],
    limit: int = DEFAULT_PAGE,
    after_id: str | None = None,
    before_id: str | None = None,
) -> dict[str, Any]:
    """One page of Anthropic's list: `after_id` pages forward, `before_id` back."""
    ids = [model.name for model in models]
    start, end = 0, len(models)
    if after_id is not None:
        start = ids.index(after_id) + 1 if after_id in ids else len(models)
    if before_id is not None:
        end = ids.index(before_id) if before_id in ids else 0
        start = max(start, end - limit)
    page = models[start : min(end, start + limit)]
    has_more = (start > 0) if before_id is not None else (start + len(page) < end)
    data = [anthropic_model(model) for model in page]
    return {
        "data": data,
        "has_more": has_more,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


def _page_size(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise InvalidRequest(f"limit must be a whole number from 1 to {MAX_PAGE}.", param="limit")
    return int(raw)


def _speaks_anthropic(request: Request) -> bool:
    return ANTHROPIC_VERSION_HEADER in request.headers


async def _visible(request: Request) -> list[ModelAlias]:
    runtime: Runtime = request.app.state.runtime
    caller = await authenticate(request.headers, runtime.catalog, runtime.oidc)
    rules = caller.rules
    return [
        model
        for model in runtime.catalog.all_models()
        if policy.model_refusal(rules, model.name) is None
    ]


async def _retrieve(model_id: str, request: Request) -> ModelAlias:
    runtime: Runtime = request.app.state.runtime
    caller = await authenticate(request.headers, runtime.catalog, runtime.oidc)
    check_model(caller, model_id)
    return runtime.catalog.resolve(model_id)


@router.get("/models")
async def list_models(request: Request) -> Response:
    if not _speaks_anthropic(request):
        visible = [_model_object(model) for model in await _visible(request)]
        return Response(orjson.dumps({"object": "list", "data": visible}), media_type=_JSON)
    try:
        query = request.query_params
        page = anthropic_page(
            await _visible(request),
            _page_size(query.get("limit")),
            query.get("after_id"),
            query.get("before_id"),
        )
    except TollwayError as exc:
        return failure_response(exc, request_id_of(request), dialects.ANTHROPIC)
    return Response(orjson.dumps(page), media_type=_JSON)


@router.get("/models/{model_id:path}")
async def retrieve_model(model_id: str, request: Request) -> Response:
    if not _speaks_anthropic(request):
        model = await _retrieve(model_id, request)
        return Response(orjson.dumps(_model_object(model)), media_type=_JSON)
    try:
        model = await _retrieve(model_id, request)
    except TollwayError as exc:
        return failure_response(exc, request_id_of(request), dialects.ANTHROPIC)
    return Response(orjson.dumps(anthropic_model(model)), media_type=_JSON)
