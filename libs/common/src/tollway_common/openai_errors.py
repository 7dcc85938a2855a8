"""The OpenAI error body and the one function that renders it to the wire."""

from __future__ import annotations

import orjson
from pydantic import BaseModel, ConfigDict


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
