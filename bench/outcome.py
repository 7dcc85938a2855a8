"""What one answer of the chaos and soak load was, as its client saw it (pure; `traffic.py` does
the I/O): complete, an error in the client's own shape, a stream ended by an error event, a
stream cut without one, or no HTTP answer at all; and the usage the client was told."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson


class Verdict(StrEnum):
    OK = "ok"
    # A non-stream error in the client's own shape (OpenAI's, or Anthropic's on /v1/messages).
    ERROR_BODY = "error-body"
    # A stream that ended with an error event in the client's shape.
    ERROR_EVENT = "error-event"
    # A stream that stopped without its end marker or an error event, or any body cut short.
    CUT = "cut"
    # No HTTP answer (connection refused or reset before the head).
    TRANSPORT = "transport"
    # An error whose body is not in the client's shape: a bug.
    MALFORMED = "malformed"


@dataclass
class Answer:
    kind: str
    stream: bool
    started: float
    ended: float = 0.0
    status: int = 0
    request_id: str = ""
    body: bytes = b""
    # True once the whole body arrived (the chunked terminator, or the end of a sized body).
    complete: bool = False
    # The exception's name when the exchange failed.
    transport_error: str = ""


@dataclass(frozen=True)
class Judged:
    answer: Answer
    verdict: Verdict
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.OK


def judge(answer: Answer) -> Judged:
    if answer.status == 0:
        return Judged(answer, Verdict.TRANSPORT)
    if answer.transport_error and not answer.complete:
        # The head came, then the connection broke or the client's timeout hit mid-body.
        return Judged(answer, Verdict.CUT)
    if answer.stream and answer.status == 200:
        return _judge_stream(answer)
    document = _json(answer.body)
    if answer.status == 200 and document is not None and "error" not in document:
        prompt, completion = _usage(document.get("usage"))
        return Judged(answer, Verdict.OK, prompt, completion)
    if answer.status >= 400 and _is_error(document):
        return Judged(answer, Verdict.ERROR_BODY)
    return Judged(answer, Verdict.MALFORMED)


def _judge_stream(answer: Answer) -> Judged:
    events = [_json(data) for data in _sse_data(answer.body)]
    if any(_is_error(event) for event in events):
        return Judged(answer, Verdict.ERROR_EVENT if answer.complete else Verdict.CUT)
    ended = b"data: [DONE]" in answer.body or b'"type":"message_stop"' in answer.body.replace(
        b" ", b""
    )
    if not (ended and answer.complete):
        return Judged(answer, Verdict.CUT)
    prompt = completion = 0
    for event in events:
        if event is None:
            continue
        message = event.get("message")
        for usage in (
            event.get("usage"),
            message.get("usage") if isinstance(message, dict) else None,
        ):
            seen_prompt, seen_completion = _usage(usage)
            prompt = seen_prompt or prompt
            completion = seen_completion or completion
    return Judged(answer, Verdict.OK, prompt, completion)


def _sse_data(body: bytes) -> list[bytes]:
    return [
        line[5:].strip()
        for line in body.split(b"\n")
        if line.startswith(b"data:") and line[5:].strip() != b"[DONE]"
    ]


def _json(data: bytes) -> dict[str, Any] | None:
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return document if isinstance(document, dict) else None


def _is_error(document: dict[str, Any] | None) -> bool:
    """OpenAI's `{"error": {"message", "type", ...}}` or Anthropic's
    `{"type": "error", "error": {"type", "message"}}`."""
    if document is None:
        return False
    error = document.get("error")
    return (
        isinstance(error, dict)
        and isinstance(error.get("message"), str)
        and isinstance(error.get("type"), str)
    )


def _usage(usage: object) -> tuple[int, int]:
    """(prompt, completion) from OpenAI's or Anthropic's usage object."""
    if not isinstance(usage, dict):
        return 0, 0
    prompt = usage.get("prompt_tokens", usage.get("input_tokens", 0))
    completion = usage.get("completion_tokens", usage.get("output_tokens", 0))
    return int(prompt or 0), int(completion or 0)
