"""Every failure at the edge becomes OpenAI error JSON through one path, and rendering it never
raises."""

from __future__ import annotations

import ast
import logging
import math
from pathlib import Path

import orjson
import pytest
from tests.support.openai_schema import validate_openai

from tollway_common import errors
from tollway_common.contract import ErrorReply
from tollway_common.openai_errors import OpenAIErrorBody
from tollway_edge.errors import ReplyError, failure_event, failure_response

ROOT = Path(__file__).parents[3]
INTERNAL = {
    "error": {
        "message": "Tollway hit an unexpected error; the request id identifies it.",
        "type": "server_error",
        "param": None,
        "code": "internal_error",
    }
}


def _json(body: bytes | memoryview) -> object:
    return orjson.loads(bytes(body))


def test_an_unexpected_failure_is_a_logged_500_with_the_request_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR):
        response = failure_response(ValueError("a bug"), "req-1")
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "req-1"
    assert _json(response.body) == INTERNAL
    [record] = [r for r in caplog.records if r.getMessage() == "unhandled error"]
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ValueError)


def test_an_unexpected_failure_mid_stream_is_the_streams_last_event() -> None:
    event = failure_event(ValueError("a bug"))
    assert event.startswith(b"data: ")
    assert event.endswith(b"\n\n")
    assert _json(event[len(b"data: ") :]) == INTERNAL


def test_a_tollway_error_keeps_its_status_code_and_headers() -> None:
    response = failure_response(errors.UpstreamRateLimited("slow down", retry_after=3), "req-2")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.headers["x-request-id"] == "req-2"
    body = _json(response.body)
    validate_openai("ErrorResponse", body)
    assert body == {"error": errors.UpstreamRateLimited("slow down").body().model_dump()}


@pytest.mark.parametrize("wait", [math.inf, -math.inf, math.nan])
def test_an_error_with_no_finite_wait_still_renders(wait: float) -> None:
    error = errors.UpstreamRateLimited("slow down", retry_after=wait)
    reply = ErrorReply(
        status=429,
        error=OpenAIErrorBody(message="slow down", type="rate_limit_error"),
        retry_after=wait,
    )
    for response in (failure_response(error, "r"), failure_response(ReplyError(reply), "r")):
        assert response.status_code == 429
        assert "retry-after" not in response.headers
    assert _json(failure_event(error)[len(b"data: ") :]) == {"error": error.body().model_dump()}


def test_a_router_reply_is_rendered_as_the_router_classified_it() -> None:
    reply = ErrorReply(
        status=502,
        error=OpenAIErrorBody(message="m", type="server_error", code="upstream_auth_failed"),
        retry_after=1.4,
        should_retry=False,
    )
    response = failure_response(ReplyError(reply), "req-3")
    assert response.status_code == 502
    assert (response.headers["retry-after"], response.headers["x-should-retry"]) == ("1", "false")
    assert _json(response.body) == {"error": reply.error.model_dump()}
    assert _json(failure_event(ReplyError(reply))[len(b"data: ") :]) == _json(response.body)


# The HTTP services and what they share; the router answers over NATS, from its handler.
HTTP_SOURCES = ("libs/common/src", "services/edge/src", "services/admin/src")


def test_only_the_last_resort_makes_an_internal_error() -> None:
    makers = [
        str(path.relative_to(ROOT))
        for root in HTTP_SOURCES
        for path in sorted((ROOT / root).rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "InternalError"
    ]
    assert makers == ["libs/common/src/tollway_common/http_errors.py"]
