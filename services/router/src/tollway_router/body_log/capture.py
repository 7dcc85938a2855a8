"""A request's bodies for the body log (pure): what the router holds while it replies, and the
redacted, size-capped BodyEvent built from it afterwards.

While a reply goes out only references to its chunks are kept (bounded by a byte limit);
parsing, assembling and redacting wait until the reply is finished.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from tollway_common.contract import BodyEvent, InferRequest
from tollway_common.forms import FORM_ENDPOINTS, read_file
from tollway_router.body_log.redaction import Redactor
from tollway_router.settings import BodyLogMode


def wanted(mode: BodyLogMode, policy: bool | None) -> bool:
    """Does this request's body get logged? A policy's opinion wins unless logging is off."""
    if mode is BodyLogMode.OFF:
        return False
    if policy is not None:
        return policy
    return mode is BodyLogMode.ALL


@dataclass
class BodyCapture:
    """The reply chunks of one request, as sent, up to `limit` bytes."""

    limit: int
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    overflow: bool = False
    error: bytes = b""

    def add(self, data: bytes) -> None:
        if self.size + len(data) > self.limit:
            self.overflow = True
            return
        self.chunks.append(data)
        self.size += len(data)


def cut(text: str, max_bytes: int) -> tuple[str, bool]:
    """`text` cut to at most `max_bytes` of UTF-8, never inside a character."""
    encoded = text.encode()
    if len(encoded) <= max_bytes:
        return text, False
    return encoded[:max_bytes].decode(errors="ignore"), True


def _choice_text(parts: dict[int, list[str]], calls: dict[tuple[int, int], list[str]]) -> str:
    out: list[str] = []
    for index in sorted(set(parts) | {choice for choice, _ in calls}):
        text = "".join(parts.get(index, []))
        for (choice, _), call in sorted(calls.items()):
            if choice == index:
                text += f"\n[tool_call {call[0]}] {''.join(call[1:])}"
        out.append(text)
    return "\n\n".join(out)


_SSE_EVENT = b"event: "
_SSE_DATA = b"\ndata: "


def stream_text(chunks: list[bytes]) -> str:
    """The answer a stream of OpenAI chunks spelled out: each choice's content (and refusal),
    then its tool calls as `[tool_call <name>] <arguments>`; choices apart by a blank line.
    A stream of Anthropic Messages events (`event:` framed) is spelled out the same way."""
    if chunks and chunks[0].startswith(_SSE_EVENT):
        return messages_stream_text(chunks)
    parts: dict[int, list[str]] = {}
    calls: dict[tuple[int, int], list[str]] = {}
    for data in chunks:
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(chunk, dict):
            continue
        choices = chunk.get("choices")
        for choice in choices or ():
            index = int(choice.get("index", 0))
            delta = choice.get("delta") or {}
            text = choice.get("text")  # legacy completions
            for piece in (delta.get("content"), delta.get("refusal"), text):
                if isinstance(piece, str):
                    parts.setdefault(index, []).append(piece)
            for call in delta.get("tool_calls") or ():
                function = call.get("function") or {}
                slot = calls.setdefault((index, int(call.get("index", 0))), [""])
                if function.get("name"):
                    slot[0] = str(function["name"])
                if isinstance(function.get("arguments"), str):
                    slot.append(function["arguments"])
    return _choice_text(parts, calls)


def messages_stream_text(frames: list[bytes]) -> str:
    """The answer a Messages event stream spelled out: its text, then each tool_use block as
    `[tool_call <name>] <input JSON>`."""
    text: list[str] = []
    calls: dict[int, list[str]] = {}
    for frame in frames:
        _, found, data = frame.partition(_SSE_DATA)
        try:
            event = orjson.loads(data) if found else None
        except orjson.JSONDecodeError:
            continue
        if not isinstance(event, dict):
            continue
        index = event.get("index")
        block, delta = event.get("content_block"), event.get("delta")
        if isinstance(block, dict) and block.get("type") == "tool_use":
            calls[int(index or 0)] = [str(block.get("name") or "")]
        elif isinstance(delta, dict) and delta.get("type") == "text_delta":
            text.append(str(delta.get("text") or ""))
        elif isinstance(delta, dict) and delta.get("type") == "input_json_delta":
            calls.setdefault(int(index or 0), [""]).append(str(delta.get("partial_json") or ""))
    tools = "".join(
        f"\n[tool_call {call[0]}] {''.join(call[1:])}" for _, call in sorted(calls.items())
    )
    return "".join(text) + tools


def _response_text(
    infer: InferRequest, capture: BodyCapture, redactor: Redactor, counts: dict[str, int]
) -> str:
    if infer.stream and capture.chunks:
        return redactor.text(stream_text(capture.chunks), counts)
    raw = capture.chunks[-1] if capture.chunks else capture.error
    try:
        # Decoded first: in JSON text an escape such as `\n` would hide the start of a secret.
        return orjson.dumps(redactor.json(orjson.loads(raw), counts)).decode()
    except orjson.JSONDecodeError:
        return redactor.text(raw.decode(errors="replace"), counts)


def _without_files(infer: InferRequest) -> dict[str, Any]:
    """The request body with each uploaded file (megabytes of base64 audio or images) as its
    name, type and size: the log keeps what was asked, not the media."""
    if infer.endpoint not in FORM_ENDPOINTS:
        return infer.body
    return {name: _file_summary(value) for name, value in infer.body.items()}


def _file_summary(value: Any) -> Any:
    if isinstance(value, list):
        return [_file_summary(item) for item in value]
    file = read_file(value)
    if file is None:
        return value
    return {"filename": file.filename, "content_type": file.content_type, "bytes": len(file.data)}


def body_event(
    infer: InferRequest,
    capture: BodyCapture,
    status_code: int,
    redactor: Redactor,
    max_body_bytes: int,
) -> BodyEvent:
    """Redact first, then cut: a cut never leaves half a secret behind unredacted."""
    counts: dict[str, int] = {}
    body: Any = redactor.json(_without_files(infer), counts)
    request, request_cut = cut(orjson.dumps(body).decode(), max_body_bytes)
    response, response_cut = cut(_response_text(infer, capture, redactor, counts), max_body_bytes)
    return BodyEvent(
        request_id=infer.request_id,
        received_at_ms=infer.received_at_ms,
        principal=infer.principal,
        model_alias=infer.route.alias,
        endpoint=infer.endpoint,
        stream=infer.stream,
        status_code=status_code,
        request_body=request,
        response_body=response,
        request_truncated=request_cut,
        response_truncated=response_cut or capture.overflow,
        redactions=counts,
    )
