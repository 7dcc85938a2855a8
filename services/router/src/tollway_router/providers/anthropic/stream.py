"""Anthropic stream events -> OpenAI `chat.completion.chunk`s (legacy completions:
`text_completion` chunks, the text alone).

The event sequence is `message_start`, then per content block `content_block_start`, deltas
and `content_block_stop`, then `message_delta` (stop reason, final output tokens) and
`message_stop`; `ping` may come anywhere and `error` ends a failed stream.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from tollway_common.contract import Endpoint
from tollway_router.providers.adapter import ChunkOut, SseEvent
from tollway_router.providers.anthropic.errors import error_event
from tollway_router.providers.anthropic.response import (
    finish_reason,
    load_object,
    openai_usage,
    to_usage,
)
from tollway_router.providers.anthropic.tools import JSON_TOOL


@dataclass(frozen=True, slots=True)
class Block:
    kind: str
    tool_index: int = -1


_OTHER = Block("other")


@dataclass
class StreamState:
    """Deltas name their block only by its index among all of Claude's content blocks, while
    OpenAI numbers tool calls among tool calls alone; `blocks` remembers what each Claude index
    became. `created` is stamped once because Claude's events carry no timestamp."""

    created: int = field(default_factory=lambda: int(time.time()))
    id: str = ""
    model: str = ""
    blocks: dict[int, Block] = field(default_factory=dict)
    tool_calls: int = 0
    usage: dict[str, Any] = field(default_factory=dict)
    done: bool = False
    endpoint: Endpoint = Endpoint.CHAT_COMPLETIONS


def new_stream_state() -> StreamState:
    return StreamState()


def new_completions_stream_state() -> StreamState:
    """A stream that comes out as legacy `text_completion` chunks."""
    return StreamState(endpoint=Endpoint.COMPLETIONS)


def parse_stream_event(event: SseEvent, state: StreamState) -> list[ChunkOut]:
    payload = load_object(event.data, "a stream event")
    handler = _HANDLERS.get(str(payload.get("type") or event.event))
    chunks = handler(payload, state) if handler is not None else []
    if state.endpoint is Endpoint.COMPLETIONS:
        return [chunk for chunk in chunks if chunk.data]
    return chunks


def _message_start(payload: dict[str, Any], state: StreamState) -> list[ChunkOut]:
    message = payload.get("message") or {}
    state.id = str(message.get("id", ""))
    state.model = str(message.get("model", ""))
    state.usage = dict(message.get("usage") or {})
    if state.endpoint is Endpoint.COMPLETIONS:
        return []
    return [_chunk(state, {"role": "assistant", "content": ""})]


def _block_start(payload: dict[str, Any], state: StreamState) -> list[ChunkOut]:
    index = int(payload.get("index", -1))
    block = payload.get("content_block") or {}
    kind = block.get("type")
    if kind == "tool_use" and block.get("name") == JSON_TOOL:
        state.blocks[index] = Block("json")
        return []
    if kind == "tool_use":
        state.blocks[index] = Block("tool", state.tool_calls)
        state.tool_calls += 1
        call = {
            "index": state.blocks[index].tool_index,
            "id": block.get("id", ""),
            "type": "function",
            "function": {"name": block.get("name", ""), "arguments": ""},
        }
        return [_chunk(state, {"tool_calls": [call]})]
    if kind == "redacted_thinking":
        return [_chunk(state, {"reasoning_redacted": [block.get("data", "")]})]
    state.blocks[index] = Block(str(kind))
    if kind == "text" and block.get("text"):
        return [_chunk(state, {"content": block["text"]})]
    if kind == "thinking" and block.get("thinking"):
        return [_chunk(state, {"reasoning_content": block["thinking"]})]
    return []


def _block_delta(payload: dict[str, Any], state: StreamState) -> list[ChunkOut]:
    delta = payload.get("delta") or {}
    kind = delta.get("type")
    if kind == "input_json_delta":
        return _arguments(delta.get("partial_json", ""), payload, state)
    fields = {
        "text_delta": ("content", "text"),
        "thinking_delta": ("reasoning_content", "thinking"),
        "signature_delta": ("reasoning_signature", "signature"),
    }
    if kind not in fields:
        return []
    name, source = fields[kind]
    value = delta.get(source, "")
    return [_chunk(state, {name: value})] if value else []


def _arguments(partial: str, payload: dict[str, Any], state: StreamState) -> list[ChunkOut]:
    block = state.blocks.get(int(payload.get("index", -1)), _OTHER)
    if not partial:
        return []
    if block.kind == "json":
        return [_chunk(state, {"content": partial})]
    if block.kind == "tool":
        call = {"index": block.tool_index, "function": {"arguments": partial}}
        return [_chunk(state, {"tool_calls": [call]})]
    return []


def _message_delta(payload: dict[str, Any], state: StreamState) -> list[ChunkOut]:
    # Counts here are cumulative; newer API versions repeat the input counts too.
    usage = payload.get("usage") or {}
    state.usage.update({key: value for key, value in usage.items() if value is not None})
    stop_reason = (payload.get("delta") or {}).get("stop_reason")
    if stop_reason is None:
        return []
    reason = finish_reason(stop_reason, called_tools=state.tool_calls > 0)
    return [_chunk(state, {}, reason)]


def _message_stop(payload: dict[str, Any], state: StreamState) -> list[ChunkOut]:
    state.done = True
    usage = to_usage(state.usage)
    data = {**_head(state), "choices": [], "usage": openai_usage(usage)}
    return [ChunkOut(data=orjson.dumps(data), usage=usage, usage_only=True)]


def _error(payload: dict[str, Any], state: StreamState) -> list[ChunkOut]:
    raise error_event(payload)


_HANDLERS: dict[str, Callable[[dict[str, Any], StreamState], list[ChunkOut]]] = {
    "message_start": _message_start,
    "content_block_start": _block_start,
    "content_block_delta": _block_delta,
    "message_delta": _message_delta,
    "message_stop": _message_stop,
    "error": _error,
}


def _head(state: StreamState) -> dict[str, Any]:
    completions = state.endpoint is Endpoint.COMPLETIONS
    return {
        "id": state.id,
        "object": "text_completion" if completions else "chat.completion.chunk",
        "created": state.created,
        "model": state.model,
    }


def _chunk(state: StreamState, delta: dict[str, Any], finish: str | None = None) -> ChunkOut:
    """One chunk for `delta`; on completions only text and the finish reach the client, so a
    delta without them comes out empty (`data` b"") and is left out."""
    if state.endpoint is Endpoint.COMPLETIONS:
        text = delta.get("content")
        if not text and finish is None:
            return ChunkOut(data=b"")
        choice = {"index": 0, "text": text or "", "logprobs": None, "finish_reason": finish}
    else:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    data = {**_head(state), "choices": [choice]}
    return ChunkOut(data=orjson.dumps(data), output_chars=_output_chars(delta))


def _output_chars(delta: dict[str, Any]) -> int:
    """Generated text the client sees, reasoning included: Claude bills thinking as output."""
    total = len(delta.get("content") or "") + len(delta.get("reasoning_content") or "")
    for call in delta.get("tool_calls") or []:
        total += len(call["function"].get("arguments") or "")
    return total
