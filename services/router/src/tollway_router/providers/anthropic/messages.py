"""OpenAI chat `messages` -> Anthropic `system` blocks and alternating `messages` turns."""

from __future__ import annotations

from typing import Any

import orjson

from tollway_common.errors import InvalidRequest
from tollway_router.providers.anthropic.parts import (
    Block,
    cache_control,
    marked,
    text_blocks,
    tool_id,
    tool_name,
    user_blocks,
)


def convert_messages(raw: Any) -> tuple[list[Block], list[Block]]:
    """Return the system text blocks and the conversation turns.

    System and developer messages go to `system` wherever they stand. Consecutive turns of one
    role are merged, which is how several `tool` results become one user turn of `tool_result`
    blocks (tool results first, as Claude requires).
    """
    if not isinstance(raw, list):
        raise InvalidRequest("messages must be an array of message objects.", param="messages")
    system: list[Block] = []
    turns: list[Block] = []
    for i, message in enumerate(raw):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise InvalidRequest(f"{where} must be an object.", param=where)
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(
                _mark_last(text_blocks(message.get("content"), f"{where}.content"), message, where)
            )
            continue
        if role == "user":
            blocks = user_blocks(message.get("content"), f"{where}.content")
        elif role == "assistant":
            blocks = _assistant_blocks(message, where)
        elif role == "tool":
            blocks = [_tool_result(message, where)]
        else:
            raise InvalidRequest(
                f"{where}.role '{role}' is not supported for Claude models.", param=f"{where}.role"
            )
        upstream_role = "assistant" if role == "assistant" else "user"
        blocks = _mark_last(blocks, message, where)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == upstream_role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": upstream_role, "content": blocks})
    return system, turns


def _mark_last(blocks: list[Block], message: dict[str, Any], where: str) -> list[Block]:
    """A `cache_control` on the message itself marks its last block, the end of the prefix
    Claude caches (as `cache_control` on a string content would)."""
    control = cache_control(message, where)
    if control is None:
        return blocks
    if not blocks:
        raise InvalidRequest(f"{where} is empty; Claude cannot cache it.", param=where)
    return [*blocks[:-1], marked(blocks[-1], control)]


def _assistant_blocks(message: dict[str, Any], where: str) -> list[Block]:
    blocks: list[Block] = []
    reasoning = message.get("reasoning_content")
    signature = message.get("reasoning_signature")
    # Claude verifies thinking by its signature; unsigned reasoning cannot be sent back, and
    # Claude does not need it: earlier turns' thinking is dropped from its context anyway.
    if isinstance(reasoning, str) and reasoning and isinstance(signature, str) and signature:
        blocks.append({"type": "thinking", "thinking": reasoning, "signature": signature})
    for data in message.get("reasoning_redacted") or []:
        blocks.append({"type": "redacted_thinking", "data": data})
    if message.get("content") is not None:
        blocks.extend(text_blocks(message["content"], f"{where}.content"))
    for k, call in enumerate(message.get("tool_calls") or []):
        blocks.append(_tool_use(call, f"{where}.tool_calls[{k}]"))
    return blocks


def _tool_use(call: Any, where: str) -> Block:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict):
        raise InvalidRequest(f"{where} must have an id and a function.", param=where)
    call_id = tool_id(call.get("id"), f"{where}.id")
    name = tool_name(function.get("name"), f"{where}.function.name")
    arguments = function.get("arguments") or "{}"
    try:
        parsed = orjson.loads(arguments)
    except (orjson.JSONDecodeError, TypeError) as exc:
        raise InvalidRequest(
            f"{where}.function.arguments is not valid JSON; Claude needs the arguments as an "
            "object.",
            param=f"{where}.function.arguments",
        ) from exc
    if not isinstance(parsed, dict):
        raise InvalidRequest(
            f"{where}.function.arguments must be a JSON object for Claude models.",
            param=f"{where}.function.arguments",
        )
    return {"type": "tool_use", "id": call_id, "name": name, "input": parsed}


def _tool_result(message: dict[str, Any], where: str) -> Block:
    call_id = tool_id(message.get("tool_call_id"), f"{where}.tool_call_id")
    block: Block = {"type": "tool_result", "tool_use_id": call_id}
    content = message.get("content")
    if isinstance(content, str):
        if content:
            block["content"] = content
    elif content is not None:
        block["content"] = text_blocks(content, f"{where}.content")
    return block
