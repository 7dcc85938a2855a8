"""The dialect a client speaks, chosen by the endpoint it called: how its stream events are
framed and ended, and how its errors look. OpenAI's for every endpoint but Anthropic's
Messages API, whose clients (Claude Code, the anthropic SDKs) read Anthropic's shapes, and
OpenAI's Responses API, whose streams are typed events (`event:` lines, no `[DONE]`) and end a
failure with an `error` event instead of an `{"error": ...}` chunk."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import orjson
from starlette.responses import Response

from tollway_common import anthropic_errors
from tollway_common.anthropic_sse import frame
from tollway_common.contract import Endpoint
from tollway_common.http_errors import error_response
from tollway_common.openai_errors import OpenAIErrorBody
from tollway_edge import sse


@dataclass(frozen=True, slots=True)
class Dialect:
    # A reply chunk as the client receives it in a stream.
    event: Callable[[bytes], bytes]
    # What a complete stream ends with (Anthropic's ends at its own `message_stop` event).
    done: bytes
    # An error (its Tollway status and body) before the first byte: the response.
    error_response: Callable[[int, OpenAIErrorBody, str, dict[str, str]], Response]
    # An error after the first byte: the stream's last event, after `sent` events.
    error_event: Callable[[int, OpenAIErrorBody, int], bytes]
    # The header that repeats `x-request-id` on every answer, where clients look for it.
    request_id_header: str | None = None


# Where the anthropic SDKs read the request id (`_request_id` on every answer).
REQUEST_ID_HEADER = "request-id"


def _verbatim(chunk: bytes) -> bytes:
    # The router sends Messages and Responses stream chunks as complete `event:`/`data:` frames.
    return chunk


def _responses_error_event(_status: int, body: OpenAIErrorBody, sent: int) -> bytes:
    """OpenAI's `ResponseErrorEvent`; its `sequence_number` follows the events already sent
    (one per reply chunk, numbered from 0 as OpenAI numbers them)."""
    event = {
        "type": "error",
        "code": body.code,
        "message": body.message,
        "param": body.param,
        "sequence_number": sent,
    }
    return frame("error", orjson.dumps(event))


def _anthropic_response(
    status: int, body: OpenAIErrorBody, request_id: str, headers: dict[str, str]
) -> Response:
    return Response(
        anthropic_errors.render_error(status, body, request_id),
        status_code=anthropic_errors.anthropic_status(status, body),
        headers={"x-request-id": request_id, REQUEST_ID_HEADER: request_id, **headers},
        media_type="application/json",
    )


OPENAI = Dialect(
    event=sse.event,
    done=sse.DONE,
    error_response=error_response,
    error_event=lambda _status, body, _sent: sse.error_event(body),
)
ANTHROPIC = Dialect(
    event=_verbatim,
    done=b"",
    error_response=_anthropic_response,
    error_event=lambda status, body, _sent: anthropic_errors.error_frame(status, body),
    request_id_header=REQUEST_ID_HEADER,
)
RESPONSES = Dialect(
    event=_verbatim,
    done=b"",
    error_response=error_response,
    error_event=_responses_error_event,
)
_BY_ENDPOINT = {
    Endpoint.MESSAGES: ANTHROPIC,
    Endpoint.MESSAGES_COUNT_TOKENS: ANTHROPIC,
    Endpoint.RESPONSES: RESPONSES,
}


def for_endpoint(endpoint: Endpoint) -> Dialect:
    return _BY_ENDPOINT.get(endpoint, OPENAI)
