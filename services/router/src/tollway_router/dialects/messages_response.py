"""OpenAI chat completion -> Anthropic Messages `Message`: the answer to a Messages request that
`messages_request.py` sent to a chat deployment (`messages_stream.py` does the same for
streams, with the pieces defined here)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from tollway_common.contract import Usage
from tollway_common.errors import UpstreamUnavailable

Json = dict[str, Any]

# `content_filter` is the upstream declining to answer, which Messages calls a refusal.
STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
# Where OpenAI-compatible servers put reasoning text (vLLM and DeepSeek, then Ollama and
# OpenRouter); OpenAI itself returns none.
REASONING_FIELDS = ("reasoning_content", "reasoning")
_NOT_IN_AN_ID = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True, slots=True)
class Asked:
    """What the client's Messages request says about the shape of its answer."""

    model: str
    # Thinking blocks only for a client that turned thinking on: a Claude model never sends
    # one otherwise, and clients read `content[0]` as the text.
    thinking: bool

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> Asked:
        thinking = body.get("thinking")
        kind = thinking.get("type") if isinstance(thinking, dict) else None
        return cls(model=str(body.get("model") or ""), thinking=kind in ("enabled", "adaptive"))


def message_id(chat_id: Any) -> str:
    """`msg_` and the upstream's id, so the two can be matched in logs."""
    raw = chat_id.removeprefix("chatcmpl-") if isinstance(chat_id, str) else ""
    return "msg_" + (_NOT_IN_AN_ID.sub("_", raw) or uuid.uuid4().hex)


def tool_use_id(raw: Any, fallback: str) -> str:
    """Messages ids are `[A-Za-z0-9_-]+`; OpenAI's `call_...` already are, other servers' may
    not be. The client sends the id back in its next turn, where it only has to match itself."""
    cleaned = _NOT_IN_AN_ID.sub("_", raw) if isinstance(raw, str) else ""
    return cleaned or fallback


def stop_reason(finish_reason: Any) -> str:
    return STOP_REASONS.get(str(finish_reason), "end_turn")


def usage_block(usage: Usage | None) -> Json:
    """Messages usage from the chat usage: input_tokens there leaves out cache reads, which
    OpenAI's prompt_tokens include."""
    if usage is None:
        usage = Usage()
    cached = min(usage.cached_read_tokens, usage.prompt_tokens)
    return {
        "input_tokens": usage.prompt_tokens - cached,
        "output_tokens": usage.completion_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
    }


def tool_input(arguments: Any, deployment: str) -> Json:
    """A tool call's arguments as the object Messages carries; none at all is `{}`."""
    if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
        return {}
    try:
        parsed = orjson.loads(arguments) if isinstance(arguments, str) else arguments
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise UpstreamUnavailable(
            f"Deployment '{deployment}' called a tool with arguments that are not a JSON "
            f"object: {str(arguments)[:120]!r}."
        )
    return parsed


def tool_name(name: Any, deployment: str) -> str:
    if not isinstance(name, str) or not name:
        raise UpstreamUnavailable(f"Deployment '{deployment}' called a tool without a name.")
    return name


def text_of(content: Any) -> str:
    """A chat message's content as text: a string, or the text of its parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text") or "")
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def reasoning_of(carrier: Mapping[str, Any]) -> str:
    for name in REASONING_FIELDS:
        value = carrier.get(name)
        if isinstance(value, str) and value:
            return value
    return ""


def to_message(chat: Mapping[str, Any], usage: Usage | None, asked: Asked, deployment: str) -> Json:
    """The Messages `Message` for a chat completion (its first choice: Messages has no `n`)."""
    choices = chat.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else {}
    choice = choice if isinstance(choice, dict) else {}
    message = choice.get("message")
    message = message if isinstance(message, dict) else {}
    content: list[Json] = []
    reasoning = reasoning_of(message)
    if reasoning and asked.thinking:
        content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    text = text_of(message.get("content"))
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal:
        text += refusal
    if text:
        content.append({"type": "text", "text": text})
    calls = message.get("tool_calls")
    for i, call in enumerate(calls if isinstance(calls, list) else []):
        function = call.get("function") if isinstance(call, dict) else None
        function = function if isinstance(function, dict) else {}
        content.append(
            {
                "type": "tool_use",
                "id": tool_use_id(call.get("id"), f"toolu_{i}"),
                "name": tool_name(function.get("name"), deployment),
                "input": tool_input(function.get("arguments"), deployment),
            }
        )
    reason = stop_reason(choice.get("finish_reason"))
    if isinstance(refusal, str) and refusal:
        reason = "refusal"
    return {
        "id": message_id(chat.get("id")),
        "type": "message",
        "role": "assistant",
        "model": str(chat.get("model") or asked.model),
        "content": content,
        "stop_reason": reason,
        "stop_sequence": None,
        "usage": usage_block(usage),
    }
