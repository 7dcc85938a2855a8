"""Anthropic `Message` -> OpenAI `chat.completion`, and the usage and stop-reason mappings the
stream shares."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from tollway_common.contract import Endpoint, Usage
from tollway_common.control import Deployment
from tollway_common.errors import UpstreamUnavailable
from tollway_router.providers.adapter import ParsedResponse
from tollway_router.providers.anthropic.completions import text_choice
from tollway_router.providers.anthropic.errors import error_event
from tollway_router.providers.anthropic.tools import JSON_TOOL

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def finish_reason(stop_reason: Any, *, called_tools: bool) -> str:
    reason = FINISH_REASONS.get(stop_reason, "stop")
    # A forced `json_response` call ends with `tool_use`, but the client asked for content.
    if reason == "tool_calls" and not called_tools:
        return "stop"
    return reason


def to_usage(raw: Any) -> Usage:
    """Anthropic's `input_tokens` excludes cached tokens; OpenAI's `prompt_tokens` includes
    them, so the three inputs are summed once here and broken down in the cache fields."""
    raw = raw if isinstance(raw, dict) else {}
    read = int(raw.get("cache_read_input_tokens") or 0)
    write = int(raw.get("cache_creation_input_tokens") or 0)
    prompt = int(raw.get("input_tokens") or 0) + read + write
    completion = int(raw.get("output_tokens") or 0)
    details = raw.get("output_tokens_details")
    reasoning = int(details.get("thinking_tokens") or 0) if isinstance(details, dict) else 0
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        cached_read_tokens=read,
        cache_write_tokens=write,
        reasoning_tokens=reasoning,
    )


def openai_usage(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_read_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def load_object(data: bytes | str, what: str) -> dict[str, Any]:
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise UpstreamUnavailable(f"Anthropic sent {what} that is not JSON.") from exc
    if not isinstance(parsed, dict):
        raise UpstreamUnavailable(f"Anthropic sent {what} that is not a JSON object.")
    return parsed


def parse_response(
    endpoint: Endpoint,
    body: bytes,
    target: Deployment,
    *,
    clock: Callable[[], float] = time.time,
) -> ParsedResponse:
    """`clock` stamps `created`: Anthropic's reply has no timestamp and OpenAI's requires one."""
    message = load_object(body, f"deployment '{target.name}' a reply")
    if message.get("type") == "error":
        raise error_event(message)
    usage = to_usage(message.get("usage"))
    model = str(message.get("model") or target.model)
    choice = _choice(message)
    completion = {
        "id": str(message.get("id", "")),
        "object": "chat.completion",
        "created": int(clock()),
        "model": model,
        "choices": [choice],
        "usage": openai_usage(usage),
    }
    if endpoint is Endpoint.COMPLETIONS:
        completion["object"] = "text_completion"
        completion["choices"] = [text_choice(choice["message"], choice["finish_reason"])]
    return ParsedResponse(body=orjson.dumps(completion), usage=usage, upstream_model=model)


def _choice(message: dict[str, Any]) -> dict[str, Any]:
    texts: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    answer: str | None = None
    out: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
    for block in message.get("content") or []:
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text", ""))
        elif kind == "tool_use" and block.get("name") == JSON_TOOL:
            answer = orjson.dumps(block.get("input", {})).decode()
        elif kind == "tool_use":
            tool_calls.append(_tool_call(block))
        elif kind == "thinking":
            out["reasoning_content"] = out.get("reasoning_content", "") + block.get("thinking", "")
            out["reasoning_signature"] = block.get("signature", "")
        elif kind == "redacted_thinking":
            out.setdefault("reasoning_redacted", []).append(block.get("data", ""))
    # In JSON mode the forced tool's input is the whole answer; Claude writes no text beside it.
    content = answer if answer is not None else "".join(texts)
    out["content"] = content if content or not tool_calls else None
    if tool_calls:
        out["tool_calls"] = tool_calls
    reason = finish_reason(message.get("stop_reason"), called_tools=bool(tool_calls))
    return {"index": 0, "message": out, "logprobs": None, "finish_reason": reason}


def _tool_call(block: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": block.get("id", ""),
        "type": "function",
        "function": {
            "name": block.get("name", ""),
            "arguments": orjson.dumps(block.get("input", {})).decode(),
        },
    }
