"""Token estimates for when a provider reports no usage (a stream cut short, a dead router).

Rough by design (about four characters a token); rows built from them are marked estimated.
"""

from __future__ import annotations

from typing import Any

CHARS_PER_TOKEN = 4


def estimate_prompt_tokens(body: dict[str, Any]) -> int:
    text = 0
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            text += len(content)
        elif isinstance(content, list):
            text += sum(
                len(str(part.get("text", ""))) for part in content if isinstance(part, dict)
            )
    for key in ("prompt", "input"):
        value = body.get(key)
        if isinstance(value, str):
            text += len(value)
        elif isinstance(value, list):
            text += sum(len(str(item)) for item in value)
    return max(1, text // CHARS_PER_TOKEN) if text else 0


def estimate_completion_tokens(output_chars: int) -> int:
    return -(-output_chars // CHARS_PER_TOKEN)
