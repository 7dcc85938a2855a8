"""Anthropic error bodies and stream `error` events -> Tollway's error taxonomy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from tollway_common.errors import (
    ContextLengthExceeded,
    PayloadTooLarge,
    TollwayError,
    UpstreamAuthFailed,
    UpstreamBadRequest,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
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
    kind, message = _detail(body)
    return _map(status, kind, message or _snippet(body), headers, f"HTTP {status}")


def error_event(payload: Mapping[str, Any]) -> TollwayError:
    """The error a stream `error` event (or an error-typed 200 body) stands for."""
    error = payload.get("error")
    error = error if isinstance(error, dict) else {}
    kind = str(error.get("type") or "api_error")
    message = str(error.get("message") or "no message given")
    return _map(_TYPE_STATUS.get(kind, 500), kind, message, {}, "stream error event")


def _map(
    status: int, kind: str, message: str, headers: Mapping[str, str], origin: str
) -> TollwayError:
    if status == 429:
        return UpstreamRateLimited(
            f"Anthropic rate limited the deployment: {message}", retry_after=_retry_after(headers)
        )
    if status in (401, 402, 403):
        reason = "has a billing problem" if status == 402 else "refused the gateway's credential"
        return UpstreamAuthFailed(
            f"Anthropic {reason} ({origin}). This is a gateway configuration problem, not your key."
        )
    if status in (408, 504):
        return UpstreamTimeout(f"Anthropic timed out ({origin}): {message}")
    if status == 413:
        return PayloadTooLarge(f"Anthropic refused the request as too large: {message}")
    if status == 400 and any(marker in message.lower() for marker in _CONTEXT_MARKERS):
        return ContextLengthExceeded(message, param="messages")
    if 400 <= status < 500:
        return UpstreamBadRequest(f"Anthropic refused the request ({origin}, {kind}): {message}")
    if status == 529 or kind == "overloaded_error":
        return UpstreamUnavailable(f"Anthropic is overloaded ({origin}): {message}")
    return UpstreamUnavailable(f"Anthropic failed ({origin}, {kind}): {message}")


def _detail(body: bytes) -> tuple[str, str]:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "unknown_error", ""
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(error, dict):
        return "unknown_error", ""
    return str(error.get("type") or "unknown_error"), str(error.get("message") or "")


def _snippet(body: bytes) -> str:
    return body[:200].decode("utf-8", errors="replace") or "no body"


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None
