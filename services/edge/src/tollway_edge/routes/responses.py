"""GET and DELETE /v1/responses/{id} and GET /v1/responses/{id}/input_items: the caller's stored
Responses API objects, which routers keep (`tollway_router.responses`) and answer for over NATS.

The edge authenticates and checks the path and query; the router checks ownership, so a
response someone else made is a 404 here exactly as one that never existed. `POST
/v1/responses` itself is inference (`fast_path.py`); cancelling is refused, since Tollway runs
no background responses to cancel.
"""

from __future__ import annotations

import re

import nats.errors
from fastapi import APIRouter, Request
from starlette.responses import Response

from tollway_common import contract
from tollway_common.contract import ErrorReply, ReplyKind, ResponseStoreOp, ResponseStoreQuery
from tollway_common.errors import InvalidRequest, NoRouterAvailable, NotFound, UpstreamTimeout
from tollway_edge.auth import authenticate
from tollway_edge.errors import ReplyError
from tollway_edge.routes.unserved import unserved_error
from tollway_edge.runtime import Runtime

router = APIRouter(prefix="/v1/responses")

# OpenAI's `input_items.list` pages: 20 items unless `limit` says otherwise, 1 to 100.
DEFAULT_PAGE = 20
MAX_PAGE = 100
_STORE_TIMEOUT_S = 5.0
_RESPONSE_ID = re.compile(r"resp_[A-Za-z0-9_-]{1,128}")
_ITEM_ID = re.compile(r"[A-Za-z0-9_-]{1,160}")
_JSON = "application/json"


@router.get("/{response_id}")
async def get_response(request: Request, response_id: str) -> Response:
    if request.query_params.get("stream", "false").lower() != "false":
        runtime: Runtime = request.app.state.runtime
        await authenticate(request.headers, runtime.catalog, runtime.oidc)
        raise InvalidRequest(
            "A stored response is read whole on this gateway; leave out 'stream' (replaying "
            "a response's events is for background responses, which it does not run).",
            param="stream",
        )
    return await _ask(request, ResponseStoreOp.GET, response_id)


@router.delete("/{response_id}")
async def delete_response(request: Request, response_id: str) -> Response:
    return await _ask(request, ResponseStoreOp.DELETE, response_id)


@router.get("/{response_id}/input_items")
async def list_input_items(request: Request, response_id: str) -> Response:
    query = request.query_params
    return await _ask(
        request,
        ResponseStoreOp.INPUT_ITEMS,
        response_id,
        after=_after(query.get("after")),
        limit=_limit(query.get("limit")),
        order=_order(query.get("order")),
    )


@router.post("/{response_id}/cancel")
async def cancel_response(request: Request, response_id: str) -> Response:
    runtime: Runtime = request.app.state.runtime
    await authenticate(request.headers, runtime.catalog, runtime.oidc)
    raise InvalidRequest(
        "Only background responses can be cancelled, and this gateway runs none: every "
        "response is finished (or failed) by the time its request returns.",
        param="response_id",
    )


@router.post("/{operation}")
async def unserved_operation(request: Request, operation: str) -> Response:
    """`/v1/responses/compact`, `/v1/responses/input_tokens`: named, not served."""
    runtime: Runtime = request.app.state.runtime
    await authenticate(request.headers, runtime.catalog, runtime.oidc)
    raise unserved_error(request.method, request.url.path)


async def _ask(
    request: Request,
    op: ResponseStoreOp,
    response_id: str,
    *,
    after: str = "",
    limit: int = DEFAULT_PAGE,
    order: str = "desc",
) -> Response:
    runtime: Runtime = request.app.state.runtime
    caller = await authenticate(request.headers, runtime.catalog, runtime.oidc)
    if not _RESPONSE_ID.fullmatch(response_id):
        raise NotFound(f"Response with id '{response_id[:140]}' not found.", param="response_id")
    query = ResponseStoreQuery(
        op=op,
        response_id=response_id,
        principal=caller.principal,
        after=after,
        limit=limit,
        order="asc" if order == "asc" else "desc",
    )
    try:
        reply = await runtime.nc.request(
            contract.RESPONSES_STORE_SUBJECT, contract.encode(query), timeout=_STORE_TIMEOUT_S
        )
    except nats.errors.NoRespondersError:
        raise NoRouterAvailable(
            "No router is available to read stored responses; try again shortly."
        ) from None
    except nats.errors.TimeoutError:
        raise UpstreamTimeout("The response store did not answer in time.") from None
    headers = reply.headers or {}
    if headers.get(contract.HEADER_KIND) == ReplyKind.ERROR.value:
        raise ReplyError(ErrorReply.model_validate_json(reply.data))
    return Response(reply.data, media_type=_JSON)


def _after(value: str | None) -> str:
    if value is None or value == "":
        return ""
    if not _ITEM_ID.fullmatch(value):
        raise InvalidRequest(
            "Invalid value for 'after': an item id (letters, digits, '_' and '-').",
            param="after",
        )
    return value


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_PAGE
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE:
        raise InvalidRequest(
            f"Invalid value for 'limit': a whole number from 1 to {MAX_PAGE}.", param="limit"
        )
    return int(value)


def _order(value: str | None) -> str:
    if value is None:
        return "desc"
    if value not in ("asc", "desc"):
        raise InvalidRequest("Invalid value for 'order': 'asc' or 'desc'.", param="order")
    return value
