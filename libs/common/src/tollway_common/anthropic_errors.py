"""An error's wire form for Anthropic Messages clients (Claude Code, the anthropic SDKs):
`{"type": "error", "error": {"type", "message"}, "request_id"}` with Anthropic's statuses, and
the `event: error` frame a stream ends with. Tollway's taxonomy stays the one source: each
error is rendered from the same status and OpenAI-shaped body every other client gets."""

from __future__ import annotations

import orjson

from tollway_common.anthropic_sse import frame
from tollway_common.openai_errors import OpenAIErrorBody

OVERLOADED_STATUS = 529
# Codes whose status differs for Anthropic clients: an overloaded provider stays 529, the
# status the anthropic SDKs know as OverloadedError (and retry).
_STATUS_BY_CODE = {"upstream_overloaded": OVERLOADED_STATUS}
_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    OVERLOADED_STATUS: "overloaded_error",
}


def anthropic_status(status: int, body: OpenAIErrorBody) -> int:
    """The HTTP status an Anthropic client gets for an error Tollway classified as `status`."""
    return _STATUS_BY_CODE.get(body.code or "", status)


def anthropic_type(status: int) -> str:
    """Anthropic's error `type` for an HTTP status (after `anthropic_status`)."""
    found = _TYPE_BY_STATUS.get(status)
    if found is not None:
        return found
    return "api_error" if status >= 500 else "invalid_request_error"


def _error_object(status: int, body: OpenAIErrorBody) -> dict[str, str]:
    return {"type": anthropic_type(anthropic_status(status, body)), "message": body.message}


def render_error(status: int, body: OpenAIErrorBody, request_id: str) -> bytes:
    """The JSON body of an error answer, as Anthropic's API sends it."""
    return orjson.dumps(
        {"type": "error", "error": _error_object(status, body), "request_id": request_id}
    )


def error_frame(status: int, body: OpenAIErrorBody) -> bytes:
    """The `event: error` frame that ends a stream that had already begun."""
    return frame("error", orjson.dumps({"type": "error", "error": _error_object(status, body)}))
