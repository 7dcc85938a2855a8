"""Legacy `/v1/completions` on Claude: the prompt becomes one user turn of a chat request, and
Claude's answer a `text_completion` (`response.py`, `stream.py` shape the chunks)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tollway_common.errors import InvalidRequest

# Completion fields the chat translation reads as they are.
_SHARED = ("model", "stop", "stream", "stream_options", "temperature", "top_p", "user")


def as_chat(body: Mapping[str, Any]) -> dict[str, Any]:
    prompt = _prompt(body.get("prompt"))
    chat = {name: body[name] for name in _SHARED if name in body}
    chat["messages"] = [{"role": "user", "content": prompt}]
    return chat


def _prompt(prompt: Any) -> str:
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if isinstance(prompt, str):
        if not prompt:
            raise InvalidRequest("prompt is empty; Claude needs some text.", param="prompt")
        return prompt
    if isinstance(prompt, list) and all(isinstance(item, str) for item in prompt):
        raise InvalidRequest(
            f"Claude models complete one prompt per request, and {len(prompt)} were sent. "
            "Send each prompt in a request of its own.",
            param="prompt",
        )
    raise InvalidRequest(
        "Claude models read prompts as text, not token ids; send the prompt as a string.",
        param="prompt",
    )


def text_choice(message: Mapping[str, Any], finish_reason: str) -> dict[str, Any]:
    """A chat choice's message as a completions choice."""
    return {
        "index": 0,
        "text": message.get("content") or "",
        "logprobs": None,
        "finish_reason": finish_reason,
    }
