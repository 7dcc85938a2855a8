"""Frame OpenAI chunks as server-sent events; errors after the first byte become an event."""

from __future__ import annotations

from tollway_common.openai_errors import OpenAIErrorBody, render_error

DONE = b"data: [DONE]\n\n"


def event(payload: bytes) -> bytes:
    return b"data: " + payload + b"\n\n"


def error_event(body: OpenAIErrorBody) -> bytes:
    return event(render_error(body))
