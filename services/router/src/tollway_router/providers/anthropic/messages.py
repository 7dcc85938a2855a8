"""OpenAI chat `messages` -> Anthropic `system` blocks and alternating `messages` turns."""

from __future__ import annotations

import re
from typing import Any

import orjson

from tollway_common.errors import InvalidRequest

Block = dict[str, Any]
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_DATA_URL = re.compile(r"^data:(?P<type>[\w.+-]+/[\w.+-]+);base64,(?P<data>.*)$", re.DOTALL)


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
            system.extend(_text_blocks(message.get("content"), f"{where}.content"))
            continue
        if role == "user":
            blocks = _user_blocks(message.get("content"), f"{where}.content")
        elif role == "assistant":
            blocks = _assistant_blocks(message, where)
        elif role == "tool":
            blocks = [_tool_result(message, where)]
        else:
            raise InvalidRequest(
                f"{where}.role '{role}' is not supported for Claude models.", param=f"{where}.role"
            )
        upstream_role = "assistant" if role == "assistant" else "user"
        if not blocks:
            continue
        if turns and turns[-1]["role"] == upstream_role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": upstream_role, "content": blocks})
    return system, turns


def _text_blocks(content: Any, where: str) -> list[Block]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise InvalidRequest(f"{where} must be a string or an array of parts.", param=where)
    return [block for j, part in enumerate(content) for block in _text_part(part, f"{where}[{j}]")]


def _text_part(part: Any, where: str) -> list[Block]:
    if not isinstance(part, dict) or part.get("type") not in ("text", "refusal"):
        raise InvalidRequest(f"{where} must be a text part here.", param=where)
    text = part.get("text") if part["type"] == "text" else part.get("refusal")
    return [{"type": "text", "text": text}] if isinstance(text, str) and text else []


def _user_blocks(content: Any, where: str) -> list[Block]:
    if not isinstance(content, list):
        return _text_blocks(content, where)
    blocks: list[Block] = []
    for j, part in enumerate(content):
        if isinstance(part, dict) and part.get("type") == "image_url":
            blocks.append(_image(part.get("image_url"), f"{where}[{j}].image_url"))
        else:
            blocks.extend(_text_part(part, f"{where}[{j}]"))
    return blocks


def _image(image_url: Any, where: str) -> Block:
    url = image_url.get("url") if isinstance(image_url, dict) else None
    if not isinstance(url, str):
        raise InvalidRequest(f"{where}.url must be a string.", param=f"{where}.url")
    if url.startswith(("http://", "https://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    match = _DATA_URL.match(url)
    if match is None:
        raise InvalidRequest(
            f"{where}.url must be an http(s) URL or a base64 data URL.", param=f"{where}.url"
        )
    media_type = match["type"].lower()
    if media_type not in IMAGE_TYPES:
        raise InvalidRequest(
            f"Claude reads JPEG, PNG, GIF and WebP images, not {media_type}.", param=f"{where}.url"
        )
    return {
        "type": "image",
        "source": {"type": "base64", "media_type": media_type, "data": match["data"]},
    }


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
        blocks.extend(_text_blocks(message["content"], f"{where}.content"))
    for k, call in enumerate(message.get("tool_calls") or []):
        blocks.append(_tool_use(call, f"{where}.tool_calls[{k}]"))
    return blocks


def _tool_use(call: Any, where: str) -> Block:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not isinstance(call.get("id"), str):
        raise InvalidRequest(f"{where} must have an id and a function.", param=where)
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
    return {"type": "tool_use", "id": call["id"], "name": function.get("name"), "input": parsed}


def _tool_result(message: dict[str, Any], where: str) -> Block:
    call_id = message.get("tool_call_id")
    if not isinstance(call_id, str):
        raise InvalidRequest(f"{where}.tool_call_id is required.", param=f"{where}.tool_call_id")
    block: Block = {"type": "tool_result", "tool_use_id": call_id}
    content = message.get("content")
    if isinstance(content, str):
        if content:
            block["content"] = content
    elif content is not None:
        block["content"] = _text_blocks(content, f"{where}.content")
    return block
