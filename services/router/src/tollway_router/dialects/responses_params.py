"""A chat adapter's refusal of a translated Responses request, its `param` said in the terms of
the request the client sent: the Claude adapter refuses `reasoning_effort` or
`messages[2].tool_calls[0].function.arguments`, and a Responses client sent `reasoning.effort`
and `input[3].arguments`. `responses_adapter.py` applies it; `responses_request.py` records
where each chat message came from."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tollway_common.errors import InvalidRequest
from tollway_router.dialects.responses_request import conversation

# Chat request fields -> the Responses fields `to_chat` made them from.
_FIELDS = {
    "reasoning_effort": "reasoning.effort",
    "max_completion_tokens": "max_output_tokens",
    "max_tokens": "max_output_tokens",
    "verbosity": "text.verbosity",
    "messages": "input",
}
# A chat tool call's fields -> a `function_call` item's.
_CALL_FIELDS = {"id": "call_id", "function.name": "name", "function.arguments": "arguments"}
_MESSAGE = re.compile(r"messages\[(\d+)\](?:\.tool_calls\[(\d+)\]\.?(.*)|\.content.*|.*)")
_TOOL = re.compile(r"tools\[(\d+)\](?:\.function)?(.*)")


def responses_param(body: Mapping[str, Any], param: str | None) -> str | None:
    """The Responses field `param`, a field of the chat request `to_chat` made of `body`, came
    from; a field both spell alike is returned as it is."""
    if param is None:
        return None
    message = _MESSAGE.fullmatch(param)
    if message is not None:
        return _message_param(body, int(message[1]), message[2], message[3])
    tool = _TOOL.fullmatch(param)
    if tool is not None:
        return _tool_param(body, int(tool[1]), tool[2])
    head, _, rest = param.partition(".")
    if head == "response_format":
        # `response_format.json_schema.schema` was `text.format.schema`.
        inner = rest.removeprefix("json_schema").removeprefix(".")
        return f"text.format.{inner}" if inner else "text.format"
    if head == "user":
        # `to_chat` lets `user` win over `safety_identifier`.
        return "user" if body.get("user") is not None else "safety_identifier"
    return _FIELDS.get(head, param)


def _message_param(body: Mapping[str, Any], index: int, call: str | None, rest: str) -> str:
    try:
        origins = conversation(body).origins
    except InvalidRequest:
        return "input"
    if index >= len(origins):
        return "input"
    origin = origins[index]
    if call is None:
        return origin.where
    calls = origin.calls
    if int(call) >= len(calls):
        return origin.where
    field = _CALL_FIELDS.get(rest)
    return f"{calls[int(call)]}.{field}" if field else calls[int(call)]


def _tool_param(body: Mapping[str, Any], index: int, rest: str) -> str:
    """`to_chat` may leave tools out (`allowed_tools`), so a chat tool's index is found again
    by its name among the tools the client sent."""
    tools = body.get("tools")
    tools = tools if isinstance(tools, list) else []
    chat_names = [_name(tool) for tool in tools]
    allowed = _allowed(body.get("tool_choice"))
    sent = [name for name in chat_names if allowed is None or name in allowed]
    if index >= len(sent):
        return "tools"
    return f"tools[{chat_names.index(sent[index])}]{rest}"


def _name(tool: Any) -> str | None:
    return tool.get("name") if isinstance(tool, dict) else None


def _allowed(choice: Any) -> set[Any] | None:
    if not isinstance(choice, dict) or choice.get("type") != "allowed_tools":
        return None
    listed = choice.get("tools")
    return {_name(tool) for tool in listed} if isinstance(listed, list) else None
