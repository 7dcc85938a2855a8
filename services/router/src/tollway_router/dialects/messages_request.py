"""Anthropic Messages request -> OpenAI chat request, for deployments that speak only chat.

Each Messages field is carried over, dropped by a rule, or refused with a 400 naming it (the
table in docs/providers.md, "Anthropic Messages on deployments that speak only chat"); nothing
a client sends ends in a 5xx. `messages_response.py` and `messages_stream.py` translate the
answer back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from tollway_common.contract import RequestFacts
from tollway_common.errors import InvalidRequest

Json = dict[str, Any]

# OpenAI's chat API takes at most this many stop sequences.
MAX_STOP_SEQUENCES = 4
# A thinking budget at or above each bound asks for that effort: the inverse of the budgets
# the Claude adapter gives each `reasoning_effort` (1024 low, 4096 medium, 16384 high).
EFFORT_BY_BUDGET = ((16384, "high"), (4096, "medium"), (0, "low"))
# Anthropic's `output_config.effort` -> `reasoning_effort`; the two above `high` become `high`,
# the most every reasoning chat model accepts.
EFFORTS = {"low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high"}
# Blocks chat cannot carry and that would change the answer if dropped: refused by name.
_REFUSED_BLOCKS = {
    "search_result": "search results (send their text as text blocks)",
    "container_upload": "container uploads (they need Anthropic's code execution tool)",
    "server_tool_use": "server tool calls (server tools run only on Anthropic)",
    "tool_reference": "tool references (they need Anthropic's tool search tool)",
}
_THINKING_BLOCKS = frozenset({"thinking", "redacted_thinking"})
_CLIENT_TOOL_TYPES = (None, "custom")
JSON_SCHEMA_NAME = "response"


def to_chat(body: Mapping[str, Any], facts: RequestFacts) -> Json:
    """The chat request for a Messages `body`; `facts.max_tokens` bounds the answer (Anthropic
    counts thinking inside max_tokens as OpenAI counts reasoning inside max_completion_tokens).

    Raises InvalidRequest naming the field when the body asks for something chat cannot do.
    """
    if body.get("mcp_servers"):
        raise InvalidRequest(
            "mcp_servers are called by Anthropic's servers, and this model is served by an "
            "OpenAI-compatible deployment; declare the tools as client tools instead.",
            param="mcp_servers",
        )
    chat: Json = {"model": body.get("model"), "messages": _conversation(body)}
    if facts.max_tokens is not None:
        chat["max_completion_tokens"] = facts.max_tokens
    _copy_sampling(body, chat)
    _add_tools(body, chat)
    effort = _reasoning_effort(body)
    if effort is not None:
        chat["reasoning_effort"] = effort
    _add_format(body, chat)
    user = _object(body.get("metadata"), "metadata").get("user_id")
    if user is not None:
        chat["user"] = _string(user, "metadata.user_id")
    if body.get("stream") is True:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return chat


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest(f"{where} must be an object.", param=where)
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise InvalidRequest(f"{where} must be a string.", param=where)
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidRequest(f"{where} must be an array.", param=where)
    return value


def _number(value: Any, where: str, top: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= top:
        raise InvalidRequest(f"{where} must be a number from 0 to {top:g}.", param=where)
    return value


# --- the conversation ---------------------------------------------------------------------


@dataclass
class _Turn:
    """A user turn's chat messages: tool results first (chat wants them right after the
    assistant's tool calls), then one user message with everything else, images the tool
    results returned included (a chat tool message carries text only)."""

    tools: list[Json] = field(default_factory=list)
    parts: list[Json] = field(default_factory=list)
    out: list[Json] = field(default_factory=list)

    def flush(self) -> None:
        self.out += self.tools
        if self.parts:
            self.out.append({"role": "user", "content": _content(self.parts)})
        self.tools, self.parts = [], []


def _content(parts: list[Json]) -> str | list[Json]:
    """One text part as a plain string (what every OpenAI-compatible server reads)."""
    if len(parts) == 1 and parts[0]["type"] == "text":
        return str(parts[0]["text"])
    return parts


def _conversation(body: Mapping[str, Any]) -> list[Json]:
    messages: list[Json] = []
    system = body.get("system")
    if system is not None:
        text = _system_text(system, "system")
        if text:
            messages.append({"role": "system", "content": text})
    for i, message in enumerate(_list(body.get("messages"), "messages")):
        messages += _message(message, f"messages[{i}]")
    if not messages:
        raise InvalidRequest("messages must hold at least one message.", param="messages")
    return messages


def _system_text(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    texts = []
    for j, block in enumerate(_list(value, where)):
        block = _object(block, f"{where}[{j}]")
        if block.get("type") != "text":
            raise InvalidRequest(f"{where}[{j}] must be a text block.", param=f"{where}[{j}].type")
        texts.append(_string(block.get("text"), f"{where}[{j}].text"))
    return "\n\n".join(texts)


def _message(raw: Any, where: str) -> list[Json]:
    message = _object(raw, where)
    role = message.get("role")
    content = message.get("content")
    if role == "system":
        return [{"role": "system", "content": _system_text(content, f"{where}.content")}]
    if role == "assistant":
        return _assistant(content, f"{where}.content")
    if role == "user":
        return _user(content, f"{where}.content")
    raise InvalidRequest(f"{where}.role must be user or assistant.", param=f"{where}.role")


def _user(content: Any, where: str) -> list[Json]:
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    turn = _Turn()
    for j, raw in enumerate(_list(content, where)):
        block_where = f"{where}[{j}]"
        block = _object(raw, block_where)
        kind = block.get("type")
        if kind == "tool_result":
            turn.tools.append(_tool_result(block, block_where, turn.parts))
        elif kind == "mid_conv_system":
            # System text in the middle of a turn: a system message at that point.
            turn.flush()
            text = _system_text(block.get("content"), f"{block_where}.content")
            turn.out.append({"role": "system", "content": text})
        elif kind not in _THINKING_BLOCKS:
            turn.parts += _user_parts(block, block_where)
    turn.flush()
    return turn.out


def _user_parts(block: Mapping[str, Any], where: str) -> list[Json]:
    kind = block.get("type")
    if kind == "text":
        return [{"type": "text", "text": _string(block.get("text"), f"{where}.text")}]
    if kind == "image":
        return [_image(block, where)]
    if kind == "document":
        return _document(block, where)
    raise _refused(kind, where)


def _refused(kind: Any, where: str) -> InvalidRequest:
    what = _REFUSED_BLOCKS.get(str(kind))
    if what is None and isinstance(kind, str) and kind.endswith("_tool_result"):
        what = "server tool results (server tools run only on Anthropic)"
    reason = f"{what} cannot be sent" if what else f"content blocks of type {kind!r} cannot be sent"
    return InvalidRequest(
        f"{where}: {reason} to this model, which an OpenAI-compatible deployment serves.",
        param=f"{where}.type",
    )


def _image(block: Mapping[str, Any], where: str) -> Json:
    source = _object(block.get("source"), f"{where}.source")
    kind = source.get("type")
    if kind == "base64":
        media = _string(source.get("media_type"), f"{where}.source.media_type")
        data = _string(source.get("data"), f"{where}.source.data")
        url = f"data:{media};base64,{data}"
    elif kind == "url":
        url = _string(source.get("url"), f"{where}.source.url")
    else:
        raise InvalidRequest(
            f"{where}.source: an image reaches an OpenAI-compatible deployment as base64 data "
            f"or a URL, not as {kind!r}.",
            param=f"{where}.source.type",
        )
    return {"type": "image_url", "image_url": {"url": url}}


def _document(block: Mapping[str, Any], where: str) -> list[Json]:
    """Text documents become text (their title first); PDFs and files are refused: not every
    OpenAI-compatible server reads them, and dropping one would change the answer."""
    source = _object(block.get("source"), f"{where}.source")
    kind = source.get("type")
    title = block.get("title")
    heading = [{"type": "text", "text": title}] if isinstance(title, str) and title else []
    if kind == "text":
        return [*heading, {"type": "text", "text": _string(source.get("data"), f"{where}.data")}]
    if kind == "content":
        inner = source.get("content")
        if isinstance(inner, str):
            return [*heading, {"type": "text", "text": inner}]
        parts = heading
        for k, raw in enumerate(_list(inner, f"{where}.source.content")):
            item_where = f"{where}.source.content[{k}]"
            item = _object(raw, item_where)
            if item.get("type") not in ("text", "image"):
                raise _refused(item.get("type"), item_where)
            parts += _user_parts(item, item_where)
        return parts
    raise InvalidRequest(
        f"{where}: only text documents can be sent to this model, which an OpenAI-compatible "
        f"deployment serves; this one's source is {kind!r}. Send its text instead.",
        param=f"{where}.source.type",
    )


def _tool_result(block: Mapping[str, Any], where: str, images: list[Json]) -> Json:
    call_id = _string(block.get("tool_use_id"), f"{where}.tool_use_id")
    content = block.get("content")
    texts: list[str] = []
    if isinstance(content, str):
        texts.append(content)
    elif content is not None:
        for k, raw in enumerate(_list(content, f"{where}.content")):
            item_where = f"{where}.content[{k}]"
            item = _object(raw, item_where)
            for part in _user_parts(item, item_where):
                if part["type"] == "text":
                    texts.append(part["text"])
                else:
                    images.append(part)
    text = "\n\n".join(texts)
    if block.get("is_error") is True:
        # Chat has no error flag on a tool result; the model reads it in the text instead.
        text = f"Error: {text}" if text else "Error"
    return {"role": "tool", "tool_call_id": call_id, "content": text}


def _assistant(content: Any, where: str) -> list[Json]:
    if isinstance(content, str):
        return [{"role": "assistant", "content": content}]
    texts: list[str] = []
    calls: list[Json] = []
    for j, raw in enumerate(_list(content, where)):
        block_where = f"{where}[{j}]"
        block = _object(raw, block_where)
        kind = block.get("type")
        if kind == "text":
            texts.append(_string(block.get("text"), f"{block_where}.text"))
        elif kind == "tool_use":
            calls.append(_tool_call(block, block_where))
        elif kind not in _THINKING_BLOCKS:
            raise _refused(kind, block_where)
    if not texts and not calls:
        return []
    message: Json = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    return [message]


def _tool_call(block: Mapping[str, Any], where: str) -> Json:
    arguments = block.get("input")
    if not isinstance(arguments, dict):
        raise InvalidRequest(f"{where}.input must be an object.", param=f"{where}.input")
    return {
        "id": _string(block.get("id"), f"{where}.id"),
        "type": "function",
        "function": {
            "name": _string(block.get("name"), f"{where}.name"),
            "arguments": _json(arguments, f"{where}.input"),
        },
    }


def _json(value: Any, where: str) -> str:
    try:
        return orjson.dumps(value).decode()
    except (orjson.JSONEncodeError, TypeError) as exc:  # nested too deep, or not JSON
        raise InvalidRequest(
            f"{where} is not JSON that can be sent on: {exc}", param=where
        ) from exc


# --- the rest of the request --------------------------------------------------------------


def _copy_sampling(body: Mapping[str, Any], chat: Json) -> None:
    for name in ("temperature", "top_p"):
        value = body.get(name)
        if value is not None:
            chat[name] = _number(value, name, 1)
    stop = body.get("stop_sequences")
    if stop is None:
        return
    sequences = [
        _string(s, f"stop_sequences[{i}]") for i, s in enumerate(_list(stop, "stop_sequences"))
    ]
    if len(sequences) > MAX_STOP_SEQUENCES:
        raise InvalidRequest(
            f"This model is served by an OpenAI-compatible deployment, which takes at most "
            f"{MAX_STOP_SEQUENCES} stop sequences; this request has {len(sequences)}.",
            param="stop_sequences",
        )
    if sequences:
        chat["stop"] = sequences


def _add_tools(body: Mapping[str, Any], chat: Json) -> None:
    raw = body.get("tools")
    tools = [_tool(tool, f"tools[{i}]") for i, tool in enumerate(_list(raw or [], "tools"))]
    choice = _object(body.get("tool_choice"), "tool_choice")
    if not tools:
        return  # chat refuses tool_choice and parallel_tool_calls without tools
    chat["tools"] = tools
    kind = choice.get("type")
    if kind == "any":
        chat["tool_choice"] = "required"
    elif kind == "none":
        chat["tool_choice"] = "none"
    elif kind == "tool":
        name = _string(choice.get("name"), "tool_choice.name")
        if name not in {tool["function"]["name"] for tool in tools}:
            raise InvalidRequest(
                f"tool_choice names the tool {name!r}, which is not among the tools.",
                param="tool_choice.name",
            )
        chat["tool_choice"] = {"type": "function", "function": {"name": name}}
    elif kind == "auto":
        chat["tool_choice"] = "auto"
    elif kind is not None:
        raise InvalidRequest(
            "tool_choice.type must be auto, any, tool or none.", param="tool_choice.type"
        )
    if choice.get("disable_parallel_tool_use") is True and kind != "none":
        chat["parallel_tool_calls"] = False


def _tool(raw: Any, where: str) -> Json:
    tool = _object(raw, where)
    kind = tool.get("type")
    if kind not in _CLIENT_TOOL_TYPES:
        raise InvalidRequest(
            f"{where} is Anthropic's server tool {kind!r}, which runs only on Anthropic's "
            "servers; this model is served by an OpenAI-compatible deployment, which can call "
            "only client tools (a name and an input_schema).",
            param=f"{where}.type",
        )
    name = _string(tool.get("name"), f"{where}.name")
    schema = tool.get("input_schema")
    if not isinstance(schema, dict):
        raise InvalidRequest(
            f"{where}.input_schema must be an object.", param=f"{where}.input_schema"
        )
    _json(schema, f"{where}.input_schema")
    function: Json = {"name": name, "parameters": schema}
    description = tool.get("description")
    if description is not None:
        function["description"] = _string(description, f"{where}.description")
    if tool.get("strict") is True:
        function["strict"] = True
    return {"type": "function", "function": function}


def _reasoning_effort(body: Mapping[str, Any]) -> str | None:
    """`output_config.effort` when given, else an enabled thinking budget by
    `EFFORT_BY_BUDGET`; adaptive or disabled thinking leaves the deployment's default."""
    effort = _object(body.get("output_config"), "output_config").get("effort")
    if effort is not None:
        if effort not in EFFORTS:
            raise InvalidRequest(
                f"output_config.effort must be one of {', '.join(EFFORTS)}.",
                param="output_config.effort",
            )
        return EFFORTS[effort]
    thinking = _object(body.get("thinking"), "thinking")
    kind = thinking.get("type")
    if kind in (None, "adaptive", "disabled"):
        return None
    if kind != "enabled":
        raise InvalidRequest(
            "thinking.type must be enabled, adaptive or disabled.", param="thinking.type"
        )
    budget = thinking.get("budget_tokens")
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise InvalidRequest(
            "thinking.budget_tokens must be a positive whole number.",
            param="thinking.budget_tokens",
        )
    return next(effort for bound, effort in EFFORT_BY_BUDGET if budget >= bound)


def _add_format(body: Mapping[str, Any], chat: Json) -> None:
    config = _object(body.get("output_config"), "output_config")
    found = config.get("format")
    if found is None:
        return
    form = _object(found, "output_config.format")
    schema = form.get("schema")
    if form.get("type") != "json_schema" or not isinstance(schema, dict):
        raise InvalidRequest(
            "output_config.format must be {type: json_schema, schema: {...}}.",
            param="output_config.format",
        )
    _json(schema, "output_config.format.schema")
    chat["response_format"] = {
        "type": "json_schema",
        "json_schema": {"name": JSON_SCHEMA_NAME, "schema": schema},
    }
