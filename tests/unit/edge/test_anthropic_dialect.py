"""Messages clients get every error in Anthropic's shape and status (one renderer, fed by the
same taxonomy as every other client), streams framed as the router sent them, and the models
list in Anthropic's format."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from tests.support.anthropic_schema import validate_anthropic, validate_anthropic_event

from tollway_common import errors
from tollway_common.contract import Endpoint, ErrorReply
from tollway_common.control import Deployment, ModelAlias
from tollway_edge import dialects
from tollway_edge.errors import ReplyError, failure_event, failure_response
from tollway_edge.routes.models import anthropic_page

ANTHROPIC = dialects.for_endpoint(Endpoint.MESSAGES)


def _json(body: bytes | memoryview) -> Any:
    return orjson.loads(bytes(body))


@pytest.mark.parametrize(
    ("error", "status", "kind"),
    [
        (errors.InvalidRequest("bad"), 400, "invalid_request_error"),
        (errors.AuthenticationFailed("who"), 401, "authentication_error"),
        (errors.PermissionDenied("no"), 403, "permission_error"),
        (errors.ModelNotFound("none"), 404, "not_found_error"),
        (errors.RateLimited("slow", retry_after=3), 429, "rate_limit_error"),
        (errors.BudgetExceeded("spent"), 429, "rate_limit_error"),
        (errors.InternalError("bug"), 500, "api_error"),
        (errors.UpstreamUnavailable("down"), 502, "api_error"),
        (errors.UpstreamOverloaded("busy"), 529, "overloaded_error"),
        (errors.NoRouterAvailable("none"), 503, "overloaded_error"),
        (errors.UpstreamTimeout("slow"), 504, "timeout_error"),
    ],
)
def test_errors_take_anthropics_shape_and_status(
    error: errors.TollwayError, status: int, kind: str
) -> None:
    for response in (
        failure_response(error, "req-1", ANTHROPIC),
        failure_response(
            ReplyError(ErrorReply(status=error.status, error=error.body())), "req-1", ANTHROPIC
        ),
    ):
        body = _json(response.body)
        validate_anthropic("ErrorResponse", body)
        assert response.status_code == status
        assert body == {
            "type": "error",
            "error": {"type": kind, "message": error.message},
            "request_id": "req-1",
        }
        assert response.headers["request-id"] == response.headers["x-request-id"] == "req-1"


def test_a_too_large_body_is_request_too_large() -> None:
    response = failure_response(errors.PayloadTooLarge("big"), "r", ANTHROPIC)
    assert response.status_code == 413
    assert _json(response.body)["error"]["type"] == "request_too_large"


def test_retry_headers_travel_with_anthropic_errors() -> None:
    limited = failure_response(errors.RateLimited("slow", retry_after=3), "r", ANTHROPIC)
    assert limited.headers["retry-after"] == "3"
    spent = failure_response(errors.BudgetExceeded("spent"), "r", ANTHROPIC)
    assert spent.headers["x-should-retry"] == "false"


def test_a_failure_mid_stream_is_an_error_event() -> None:
    event = failure_event(errors.UpstreamOverloaded("busy"), ANTHROPIC)
    name, data = event.decode().rstrip("\n").split("\n")
    assert name == "event: error"
    payload = orjson.loads(data.removeprefix("data: "))
    validate_anthropic_event(payload)
    assert payload == {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}


def test_other_endpoints_keep_openai_errors_and_framing() -> None:
    for endpoint in (Endpoint.CHAT_COMPLETIONS, Endpoint.COMPLETIONS, Endpoint.EMBEDDINGS):
        dialect = dialects.for_endpoint(endpoint)
        assert dialect is dialects.OPENAI
    assert dialects.OPENAI.event(b"{}") == b"data: {}\n\n"
    assert ANTHROPIC.event(b"event: ping\ndata: {}\n\n") == b"event: ping\ndata: {}\n\n"
    assert ANTHROPIC.done == b""
    response = failure_response(errors.UpstreamOverloaded("busy"), "r")
    assert response.status_code == 502
    assert _json(response.body)["error"]["code"] == "upstream_overloaded"


def _models(*names: str) -> list[ModelAlias]:
    return [
        ModelAlias(
            name=name,
            created=1_700_000_000,
            deployments=[
                Deployment(name="d", provider="anthropic", model="m", context_window=200_000)
            ],
        )
        for name in names
    ]


def test_the_models_list_pages_in_anthropics_format() -> None:
    models = _models("a", "b", "c")
    first = anthropic_page(models, limit=2)
    validate_anthropic("ListResponse_ModelInfo_", first)
    assert first["data"][0] == {
        "type": "model",
        "id": "a",
        "display_name": "a",
        "created_at": "2023-11-14T22:13:20Z",
        "max_input_tokens": 200_000,
        "max_tokens": None,
        "capabilities": None,
    }
    assert (first["first_id"], first["last_id"], first["has_more"]) == ("a", "b", True)
    rest = anthropic_page(models, limit=2, after_id="b")
    assert ([m["id"] for m in rest["data"]], rest["has_more"]) == (["c"], False)
    back = anthropic_page(models, limit=1, before_id="c")
    assert ([m["id"] for m in back["data"]], back["has_more"]) == (["b"], True)
    assert anthropic_page([], limit=5) == {
        "data": [],
        "has_more": False,
        "first_id": None,
        "last_id": None,
    }
