"""OpenAI `tools`, `tool_choice`, `parallel_tool_calls` (and the deprecated `functions` and
`function_call`) -> Claude's `tools` and `tool_choice`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tollway_common.errors import InvalidRequest
from tollway_router.providers.anthropic.parts import Block, cache_control, marked, tool_name

# `response_format` is served, where the model has no native structured outputs, by forcing
# this tool; its input is the JSON answer. The name is reserved so responses and streams can
# recognise it without seeing the request.
JSON_TOOL = "json_response"
_NONE = {"type": "none"}


def client_tools(body: Mapping[str, Any]) -> list[Block]:
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise InvalidRequest("tools must be an array of function tools.", param="tools")
        return [_tool(tool, i) for i, tool in enumerate(tools)]
    functions = body.get("functions")
    if functions is None:
        return []
    if not isinstance(functions, list):
        raise InvalidRequest("functions must be an array of functions.", param="functions")
    return [
        _tool({"type": "function", "function": function}, i, where="functions")
        for i, function in enumerate(functions)
    ]


def client_tool_choice(body: Mapping[str, Any], *, has_tools: bool) -> Block | None:
    if "tool_choice" in body or "functions" not in body:
        return _tool_choice(body.get("tool_choice"), "tool_choice", has_tools=has_tools)
    call = body.get("function_call")
    if isinstance(call, dict):
        call = {"type": "function", "function": call}
    return _tool_choice(call, "function_call", has_tools=has_tools)


def with_parallel_rule(choice: Block | None, body: Mapping[str, Any]) -> Block | None:
    if body.get("parallel_tool_calls") is False and choice != _NONE:
        return {**(choice or {"type": "auto"}), "disable_parallel_tool_use": True}
    return choice


def json_tool(description: str, schema: dict[str, Any]) -> Block:
    return {"name": JSON_TOOL, "description": description, "input_schema": schema}


def forced_json_choice(tools: list[Block], choice: Block | None) -> Block | None:
    """The choice that makes Claude answer through the JSON tool: forced when it is the only
    tool on offer, else any tool (the model may still call one of the client's instead)."""
    if not tools or choice == _NONE:
        return {"type": "tool", "name": JSON_TOOL}
    if choice in (None, {"type": "auto"}):
        return {"type": "any"}
    return choice


def _tool(tool: Any, i: int, where: str = "tools") -> Block:
    function = tool.get("function") if isinstance(tool, dict) else None
    if (
        not isinstance(tool, dict)
        or tool.get("type") != "function"
        or not isinstance(function, dict)
    ):
        raise InvalidRequest(
            "Claude models take only function tools.", param=f"{where}[{i}]", code="invalid_type"
        )
    name = tool_name(function.get("name"), f"{where}[{i}].function.name")
    if name == JSON_TOOL:
        raise InvalidRequest(
            f"The tool name '{JSON_TOOL}' is reserved by the gateway for response_format; "
            "rename the tool.",
            param=f"{where}[{i}].function.name",
        )
    schema = function.get("parameters") or {"type": "object", "properties": {}}
    if not isinstance(schema, dict):
        raise InvalidRequest(
            f"{where}[{i}].function.parameters must be a JSON schema object.",
            param=f"{where}[{i}].function.parameters",
        )
    if schema.get("type", "object") != "object":
        raise InvalidRequest(
            f"{where}[{i}].function.parameters must describe an object: Claude's tools take "
            "their arguments as one JSON object.",
            param=f"{where}[{i}].function.parameters",
        )
    # A schema without `type` is valid JSON Schema to OpenAI; Anthropic requires it.
    converted: Block = {"name": name, "input_schema": {"type": "object", **schema}}
    description = function.get("description")
    if isinstance(description, str) and description:
        converted["description"] = description
    return marked(converted, cache_control(tool, f"{where}[{i}]"))


def _tool_choice(choice: Any, param: str, *, has_tools: bool) -> Block | None:
    if choice is None or not has_tools:
        return None
    if choice in ("auto", "none"):
        return {"type": choice}
    if choice == "required":
        return {"type": "any"}
    if isinstance(choice, dict) and choice.get("type") == "function":
        function = choice.get("function")
        if isinstance(function, dict):
            return {"type": "tool", "name": tool_name(function.get("name"), f"{param}.name")}
    raise InvalidRequest(
        f"{param} must be auto, none, required or a named function for Claude models.",
        param=param,
    )
