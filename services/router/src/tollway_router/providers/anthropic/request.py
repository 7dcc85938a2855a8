"""OpenAI chat (and legacy completions) request -> Anthropic Messages request body
(`POST /v1/messages`), by the rule `fields.py` gives each field and what the target model
takes (`capabilities.py`)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from tollway_common.contract import Endpoint, RequestFacts
from tollway_common.control import Deployment
from tollway_common.errors import InvalidRequest
from tollway_router.providers.adapter import HttpCall
from tollway_router.providers.anthropic.capabilities import capabilities
from tollway_router.providers.anthropic.completions import as_chat
from tollway_router.providers.anthropic.fields import CHAT_FIELDS, COMPLETION_FIELDS, check_fields
from tollway_router.providers.anthropic.messages import convert_messages
from tollway_router.providers.anthropic.output import Output, plan_output
from tollway_router.providers.anthropic.parts import Block
from tollway_router.providers.anthropic.reasoning import Reasoning, plan_reasoning
from tollway_router.providers.anthropic.sampling import sampling
from tollway_router.providers.anthropic.tools import (
    client_tool_choice,
    client_tools,
    forced_json_choice,
    with_parallel_rule,
)

PATH = "/v1/messages"
API_VERSION = "2023-06-01"
_USER_ID_LENGTH = 512
_SERVICE_TIERS = {"auto": "auto", "priority": "auto", "default": "standard_only"}


def build_request(
    endpoint: Endpoint, body: Mapping[str, Any], facts: RequestFacts, target: Deployment
) -> HttpCall:
    if endpoint is Endpoint.COMPLETIONS:
        check_fields(body, COMPLETION_FIELDS)
        body = as_chat(body)
    elif endpoint is Endpoint.CHAT_COMPLETIONS:
        check_fields(body, CHAT_FIELDS)
    else:
        raise InvalidRequest(
            f"Anthropic deployment '{target.name}' serves chat completions and completions "
            f"here, not {endpoint.value}.",
            param="model",
        )
    upstream = messages_body(body, facts, target)
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


def messages_body(
    body: Mapping[str, Any], facts: RequestFacts, target: Deployment
) -> dict[str, Any]:
    caps = capabilities(target.base_model or target.model)
    system, messages = convert_messages(body.get("messages"))
    upstream: dict[str, Any] = {"model": target.model, "messages": messages}
    if system:
        upstream["system"] = system
    reasoning = plan_reasoning(body.get("reasoning_effort"), facts.max_tokens, target, caps)
    upstream["max_tokens"] = reasoning.max_tokens
    upstream.update(sampling(body, caps))
    stops = _stop_sequences(body.get("stop"))
    if stops:
        upstream["stop_sequences"] = stops
    output = plan_output(body.get("response_format"), caps)
    _add_tools(body, output, upstream)
    _add_reasoning(reasoning, output, upstream)
    user = body.get("safety_identifier") or body.get("user")
    if isinstance(user, str) and user:
        upstream["metadata"] = {"user_id": _user_id(user)}
    tier = _SERVICE_TIERS.get(str(body.get("service_tier")))
    if tier is not None and not target.is_foundry:
        upstream["service_tier"] = tier
    return upstream


def _user_id(user: str) -> str:
    """Claude takes ids of up to 512 characters; a longer one is sent as its SHA-256, which
    still tells its users apart."""
    return user if len(user) <= _USER_ID_LENGTH else hashlib.sha256(user.encode()).hexdigest()


def _stop_sequences(stop: Any) -> list[str]:
    """OpenAI's `stop` as Claude's `stop_sequences`, empty strings left out."""
    if stop is None:
        return []
    items = [stop] if isinstance(stop, str) else stop
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise InvalidRequest("stop must be a string or an array of strings.", param="stop")
    return [item for item in items if item]


def _add_tools(body: Mapping[str, Any], output: Output, upstream: dict[str, Any]) -> None:
    tools = client_tools(body)
    choice = client_tool_choice(body, has_tools=bool(tools))
    if output.tool is not None:
        choice = forced_json_choice(tools, choice)
        tools = [*tools, output.tool]
    if not tools:
        return
    upstream["tools"] = tools
    choice = with_parallel_rule(choice, body)
    if choice is not None:
        upstream["tool_choice"] = choice


def _add_reasoning(reasoning: Reasoning, output: Output, upstream: dict[str, Any]) -> None:
    config: Block = {}
    if output.format is not None:
        config["format"] = output.format
    if reasoning.effort is not None:
        config["effort"] = reasoning.effort
    if config:
        upstream["output_config"] = config
    if reasoning.thinking is None:
        return
    # Claude refuses to be forced to call a tool while it thinks.
    if (upstream.get("tool_choice") or {}).get("type") in ("any", "tool"):
        if output.tool is not None:
            raise InvalidRequest(
                "This Claude model cannot combine reasoning_effort with this response_format: "
                "the JSON answer is obtained by forcing a tool call, which thinking does not "
                "allow. Drop one of the two, or use a json_schema on a model with native "
                "structured outputs.",
                param="reasoning_effort",
            )
        raise InvalidRequest(
            "Claude cannot be forced to call a tool while it thinks; use tool_choice auto, "
            "or drop reasoning_effort.",
            param="tool_choice",
        )
    upstream["thinking"] = reasoning.thinking
