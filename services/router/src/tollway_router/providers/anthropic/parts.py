"""OpenAI content parts -> Anthropic content blocks: text, images, PDF and text documents, and
the `cache_control` breakpoints clients put on them.

OpenAI has no prompt caching switch; clients that want Claude's put Anthropic's own
`cache_control` on a content part, a message or a tool, and it is kept on the block it marks.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from tollway_common.errors import InvalidRequest

Block = dict[str, Any]
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
PDF = "application/pdf"
TEXT = "text/plain"
_DATA_URL = re.compile(r"^data:(?P<type>[\w.+-]+/[\w.+-]+);base64,(?P<data>.*)$", re.DOTALL)
_CACHE_TTLS = frozenset({"5m", "1h"})
_NOT_IN_ID = re.compile(r"[^a-zA-Z0-9_-]")
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
_TITLE_LENGTH = 500


def cache_control(owner: Any, where: str) -> Block | None:
    """The Anthropic `cache_control` an OpenAI part, message or tool carries, checked."""
    value = owner.get("cache_control") if isinstance(owner, dict) else None
    if value is None:
        return None
    if (
        not isinstance(value, dict)
        or value.get("type") != "ephemeral"
        or set(value) - {"type", "ttl"}
        or ("ttl" in value and value["ttl"] not in _CACHE_TTLS)
    ):
        raise InvalidRequest(
            f"{where}.cache_control must be {{'type': 'ephemeral'}}, with an optional ttl of "
            "'5m' or '1h'.",
            param=f"{where}.cache_control",
        )
    return dict(value)


def tool_id(value: Any, where: str) -> str:
    """A tool call id as Claude takes it (letters, digits, `_` and `-`). Other backends' ids
    (`functions.get_weather:0`) are rewritten the same way wherever they appear, so a call
    and its result still pair up."""
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"{where} must be a non-empty string.", param=where)
    return _NOT_IN_ID.sub("_", value)


def tool_name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _TOOL_NAME.match(value):
        raise InvalidRequest(
            f"{where} must be 1 to 128 letters, digits, underscores or dashes for Claude models.",
            param=where,
        )
    return value


def marked(block: Block, control: Block | None) -> Block:
    return {**block, "cache_control": control} if control is not None else block


def text_blocks(content: Any, where: str) -> list[Block]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise InvalidRequest(f"{where} must be a string or an array of parts.", param=where)
    return [block for j, part in enumerate(content) for block in text_part(part, f"{where}[{j}]")]


def text_part(part: Any, where: str) -> list[Block]:
    if not isinstance(part, dict) or part.get("type") not in ("text", "refusal"):
        raise InvalidRequest(f"{where} must be a text part here.", param=where)
    text = part.get("text") if part["type"] == "text" else part.get("refusal")
    control = cache_control(part, where)
    if not isinstance(text, str) or not text:
        if control is not None:
            raise InvalidRequest(
                f"{where} is empty; Claude cannot cache an empty block.", param=where
            )
        return []
    return [marked({"type": "text", "text": text}, control)]


def user_blocks(content: Any, where: str) -> list[Block]:
    if not isinstance(content, list):
        return text_blocks(content, where)
    blocks: list[Block] = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        at = f"{where}[{j}]"
        if kind == "image_url":
            image = _image(part.get("image_url"), f"{at}.image_url")
            blocks.append(marked(image, cache_control(part, at)))
        elif kind == "file":
            document = _document(part.get("file"), f"{at}.file")
            blocks.append(marked(document, cache_control(part, at)))
        else:
            blocks.extend(text_part(part, at))
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


def _document(file: Any, where: str) -> Block:
    """An OpenAI `file` part (inline `file_data`) -> a `document` block: PDFs as base64,
    plain text as text. OpenAI sends `file_data` as a data URL; bare base64 is a PDF, the only
    file type OpenAI's chat completions take."""
    if not isinstance(file, dict):
        raise InvalidRequest(f"{where} must be an object.", param=where)
    if file.get("file_id") is not None:
        raise InvalidRequest(
            "Claude cannot read files uploaded to OpenAI; send the file inline as file_data "
            "(a base64 data URL).",
            param=f"{where}.file_id",
        )
    data = file.get("file_data")
    if not isinstance(data, str) or not data:
        raise InvalidRequest(
            f"{where}.file_data must be the file as a base64 data URL.", param=f"{where}.file_data"
        )
    match = _DATA_URL.match(data)
    media_type, payload = (match["type"].lower(), match["data"]) if match else (PDF, data)
    if media_type == PDF:
        source = {"type": "base64", "media_type": PDF, "data": payload}
    elif media_type == TEXT:
        source = {"type": "text", "media_type": TEXT, "data": _decoded_text(payload, where)}
    else:
        raise InvalidRequest(
            f"Claude reads PDF and plain-text documents, not {media_type}.",
            param=f"{where}.file_data",
        )
    block: Block = {"type": "document", "source": source}
    filename = file.get("filename")
    if isinstance(filename, str) and filename:
        block["title"] = filename[:_TITLE_LENGTH]
    return block


def _decoded_text(payload: str, where: str) -> str:
    try:
        return base64.b64decode(payload, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidRequest(
            f"{where}.file_data is not base64-encoded UTF-8 text.", param=f"{where}.file_data"
        ) from exc
