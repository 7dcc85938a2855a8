"""An error's wire form: the OpenAI error body, and the one renderer each of the body and of
the headers that go with it (`retry-after`, `x-should-retry`)."""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from pydantic import BaseModel, ConfigDict

from tollway_common import retry_after as retry_after_header


class OpenAIErrorBody(BaseModel):
    """The inner object of `{"error": {...}}` as OpenAI clients parse it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    message: str
    type: str
    param: str | None = None
    code: str | None = None


def render_error(body: OpenAIErrorBody) -> bytes:
    """Serialise an error body as OpenAI does: `{"error": {message, type, param, code}}`."""
    return orjson.dumps({"error": body.model_dump()})


def error_headers(
    retry_after: float | None,
    should_retry: bool | None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The headers an error answer carries besides `x-request-id`; never raises.

    Args:
        retry_after: seconds the client should wait; left out when None, inf or nan.
        should_retry: sent as `x-should-retry`, to overrule the SDKs' retry-by-status.
        extra: headers of the error's own (rate-limit details), kept as they are.
    """
    headers = dict(extra or {})
    value = None if retry_after is None else retry_after_header.header_value(retry_after)
    if value is not None:
        headers["retry-after"] = value
    if should_retry is not None:
        headers["x-should-retry"] = "true" if should_retry else "false"
    return headers
