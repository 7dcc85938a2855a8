"""OpenAI chat request -> Anthropic Messages request body (`POST /v1/messages`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from tollway_common.contract import Endpoint, RequestFacts
from tollway_common.control import Deployment
from tollway_common.errors import InvalidRequest
from tollway_router.providers.adapter import HttpCall
from tollway_router.providers.anthropic.messages import convert_messages
from tollway_router.providers.anthropic.parts import cache_control, marked

PATH = "/v1/messages"
API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
# `response_format` is served by forcing this tool; its input is the JSON answer. The name is
# reserved so responses and streams can recognise it without seeing the request.
JSON_TOOL = "json_response"
# Anthropic refuses a smaller `budget_tokens`.
MIN_THINKING_BUDGET = 1024
THINKING_BUDGETS = {"minimal": 1024, "low": 1024, "medium": 4096, "high": 16384, "xhigh": 32768}


def build_request(
    endpoint: Endpoint, body: Mapping[str, Any], facts: RequestFacts, target: Deployment
) -> HttpCall:
    if endpoint is not Endpoint.CHAT_COMPLETIONS:
        raise InvalidRequest(
            f"Anthropic deployment '{target.name}' only serves chat completions.", param="model"
        )
    _reject_unsupported(body)
    system, messages = convert_messages(body.get("messages"))
    upstream: dict[str, Any] = {"model": target.model, "messages": messages}
    if system:
        upstream["system"] = system
    upstream["max_tokens"], budget = _token_plan(
        facts.max_tokens, target, _thinking_budget(body.get("reasoning_effort"))
    )
    _copy_sampling(body, upstream)
    _add_tools(body, upstream)
    if budget is not None:
        _check_thinking_allows_tool_choice(upstream, body)
        upstream["thinking"] = {"type": "enabled", "budget_tokens": budget}
    user = body.get("safety_identifier") or body.get("user")
    if isinstance(user, str) and user:
        upstream["metadata"] = {"user_id": user}
    stream = bool(body.get("stream"))
    if stream:
        upstream["stream"] = True
    return HttpCall(
        method="POST",
        path=PATH,
        body=orjson.dumps(upstream),
        stream=stream,
        headers={"anthropic-version": API_VERSION},
    )


def _reject_unsupported(body: Mapping[str, Any]) -> None:
    n = body.get("n")
    if isinstance(n, int) and n > 1:
        raise InvalidRequest(
            f"Claude models return one choice per request, and n={n} asks for more. "
            "Omit n (or send 1) and make several requests instead.",
            param="n",
        )
    if body.get("logprobs"):
        raise InvalidRequest("Claude models do not return log probabilities.", param="logprobs")


def _thinking_budget(effort: Any) -> int | None:
    if effort is None or effort == "none":
        return None
    if effort not in THINKING_BUDGETS:
        raise InvalidRequest(
            f"reasoning_effort must be one of {', '.join(THINKING_BUDGETS)} or none.",
            param="reasoning_effort",
        )
    return THINKING_BUDGETS[effort]


def _token_plan(
    bound: int | None, target: Deployment, budget: int | None
) -> tuple[int, int | None]:
    """Claude's `max_tokens` and thinking budget. Claude counts thinking inside max_tokens, and
    the edge's bound (`facts.max_tokens`: the client's, or a cap) holds for everything the
    answer uses, so thinking is fitted inside the bound rather than added on top of it: the
    effort's budget when the bound has room beyond it, else half the bound. Only with no bound
    does the deployment's default size the answer, with the budget on top."""
    if bound is None:
        requested = target.default_max_tokens or DEFAULT_MAX_TOKENS
        if budget is not None and requested <= budget:
            return budget + requested, budget
        return requested, budget
    if budget is None or bound > budget:
        return bound, budget
    fitted = max(MIN_THINKING_BUDGET, bound // 2)
    if fitted >= bound:
        raise InvalidRequest(
            f"reasoning_effort needs a thinking budget of at least {MIN_THINKING_BUDGET} tokens "
            f"inside max_tokens on Claude, and this request may use at most {bound} (its "
            f"max_tokens or the gateway's cap). Ask for more than {MIN_THINKING_BUDGET} "
            "max_tokens, or send reasoning_effort 'none'.",
            param="reasoning_effort",
        )
    return bound, fitted


def _copy_sampling(body: Mapping[str, Any], upstream: dict[str, Any]) -> None:
    for name in ("temperature", "top_p"):
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise InvalidRequest(
                f"Claude accepts a {name} between 0 and 1, not {value!r}.", param=name
            )
        upstream[name] = value
    stop = body.get("stop")
    if isinstance(stop, str):
        upstream["stop_sequences"] = [stop]
    elif isinstance(stop, list) and stop:
        upstream["stop_sequences"] = list(stop)


def _add_tools(body: Mapping[str, Any], upstream: dict[str, Any]) -> None:
    tools = [_tool(tool, i) for i, tool in enumerate(body.get("tools") or [])]
    choice = _tool_choice(body.get("tool_choice"), has_tools=bool(tools))
    json_tool = _json_tool(body.get("response_format"))
    if json_tool is not None:
        # Claude has no JSON mode: a forced tool whose input is the answer gives the same
        # guarantee. With client tools on offer the model may still call one of those instead.
        if not tools or choice == {"type": "none"}:
            choice = {"type": "tool", "name": JSON_TOOL}
        elif choice in (None, {"type": "auto"}):
            choice = {"type": "any"}
        tools.append(json_tool)
    if not tools:
        return
    upstream["tools"] = tools
    if body.get("parallel_tool_calls") is False and choice != {"type": "none"}:
        choice = {**(choice or {"type": "auto"}), "disable_parallel_tool_use": True}
    if choice is not None:
        upstream["tool_choice"] = choice


def _tool(tool: Any, i: int) -> dict[str, Any]:
    function = tool.get("function") if isinstance(tool, dict) else None
    if (
        not isinstance(tool, dict)
        or tool.get("type") != "function"
        or not isinstance(function, dict)
    ):
        raise InvalidRequest(
            "Claude models take only function tools.", param=f"tools[{i}]", code="invalid_type"
        )
    name = function.get("name")
    if name == JSON_TOOL:
        raise InvalidRequest(
            f"The tool name '{JSON_TOOL}' is reserved by the gateway for response_format; "
            "rename the tool.",
            param=f"tools[{i}].function.name",
        )
    converted: dict[str, Any] = {
        "name": name,
        "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
    }
    if function.get("description"):
        converted["description"] = function["description"]
    return marked(converted, cache_control(tool, f"tools[{i}]"))


def _tool_choice(choice: Any, *, has_tools: bool) -> dict[str, Any] | None:
    if choice is None or not has_tools:
        return None
    if choice in ("auto", "none"):
        return {"type": choice}
    if choice == "required":
        return {"type": "any"}
    if isinstance(choice, dict) and choice.get("type") == "function":
        function = choice.get("function")
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            return {"type": "tool", "name": function["name"]}
    raise InvalidRequest(
        "tool_choice must be auto, none, required or a named function for Claude models.",
        param="tool_choice",
    )


def _json_tool(response_format: Any) -> dict[str, Any] | None:
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind in (None, "text"):
        return None
    if kind == "json_object":
        return {
            "name": JSON_TOOL,
            "description": "Give the answer as a JSON object.",
            "input_schema": {"type": "object"},
        }
    spec = response_format.get("json_schema") if kind == "json_schema" else None
    if not isinstance(spec, dict):
        raise InvalidRequest(
            "response_format must be text, json_object or json_schema with a json_schema object.",
            param="response_format",
        )
    schema = spec.get("schema") or {"type": "object"}
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise InvalidRequest(
            "Claude models need a json_schema whose top level is an object.",
            param="response_format.json_schema.schema",
        )
    description = spec.get("description") or f"Give the answer as a '{spec.get('name')}' object."
    return {"name": JSON_TOOL, "description": description, "input_schema": schema}


def _check_thinking_allows_tool_choice(upstream: dict[str, Any], body: Mapping[str, Any]) -> None:
    choice = upstream.get("tool_choice") or {}
    if choice.get("type") not in ("any", "tool"):
        return
    if _json_tool(body.get("response_format")) is not None:
        raise InvalidRequest(
            "Claude cannot combine reasoning_effort with response_format: JSON output is "
            "obtained by forcing a tool call, which extended thinking does not allow.",
            param="reasoning_effort",
        )
    raise InvalidRequest(
        "Claude cannot be forced to call a tool while extended thinking is on; use "
        "tool_choice auto, or drop reasoning_effort.",
        param="tool_choice",
    )
