"""Anthropic error bodies and stream `error` events, read for the shared ladder
(`providers/errors.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from tollway_common.errors import TollwayError
from tollway_router.providers.errors import (
    CONTEXT_LENGTH_EXCEEDED,
    ErrorDetail,
    classify,
    from_response,
)

_CONTEXT_MARKERS = ("prompt is too long", "exceed context limit")
# The status each error `type` comes with over HTTP, for `error` events inside a 200 stream.
_TYPE_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


def parse_error(status: int, headers: Mapping[str, str], body: bytes) -> TollwayError:
    return from_response(status, headers, _detail(_error_object(body), body), "Anthropic")


def error_event(payload: Mapping[str, Any]) -> TollwayError:
    """The error a stream `error` event (or an error-typed 200 body) stands for."""
    error = payload.get("error")
    error = error if isinstance(error, dict) else {}
    status = _TYPE_STATUS.get(str(error.get("type") or "api_error"), 500)
    return classify(status, _detail(error, b""), "Anthropic sent an error event")


def _detail(error: Mapping[str, Any], body: bytes) -> ErrorDetail:
    message = str(error.get("message") or "") or _snippet(body)
    # Anthropic has no code for an over-long prompt; its message is the only sign.
    if any(marker in message.lower() for marker in _CONTEXT_MARKERS):
        return ErrorDetail(message, code=CONTEXT_LENGTH_EXCEEDED, param="messages")
    return ErrorDetail(message)


def _error_object(body: bytes) -> Mapping[str, Any]:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    error = parsed.get("error") if isinstance(parsed, dict) else None
    return error if isinstance(error, dict) else {}


def _snippet(body: bytes) -> str:
    return body[:200].decode("utf-8", errors="replace") or "no message given"
