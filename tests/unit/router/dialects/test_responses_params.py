"""A chat adapter's refusal of a translated Responses request names the Responses field the
client sent, not the chat field the translation made of it."""

from __future__ import annotations

from typing import Any

import pytest
from tests.support.responses_over_chat import ANTHROPIC, facts_of, infer_for

from tollway_common.contract import Endpoint
from tollway_common.control import Deployment
from tollway_common.errors import InvalidRequest
from tollway_common.providers import Provider
from tollway_router.dialects.responses_adapter import responses_over_chat
from tollway_router.dialects.responses_params import responses_param

ASK: dict[str, Any] = {"model": "claude-sonnet-4-5", "max_output_tokens": 2000}
WEATHER = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}
TIME = {"type": "function", "name": "get_time", "parameters": {"type": "object"}}


# A model that thinks on a budget, which must fit inside the answer's bound.
CLAUDE = Deployment(name="claude", provider=Provider.ANTHROPIC, model="claude-sonnet-4-5")


def _refused_by_claude(**fields: Any) -> InvalidRequest:
    body = {**ASK, **fields}
    adapter = responses_over_chat(ANTHROPIC, infer_for(body), CLAUDE)
    with pytest.raises(InvalidRequest) as refused:
        adapter.build_request(Endpoint.RESPONSES, body, facts_of(body), CLAUDE)
    return refused.value


def test_a_thinking_budget_that_does_not_fit_names_reasoning_effort() -> None:
    refused = _refused_by_claude(input="Hi", reasoning={"effort": "low"}, max_output_tokens=1000)
    assert refused.param == "reasoning.effort"
    assert refused.status == 400


def test_a_function_call_claude_cannot_take_names_its_input_item() -> None:
    items = [
        {"role": "user", "content": "Weather?"},
        {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{"},
        {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
    ]
    refused = _refused_by_claude(instructions="Be brief.", input=items, tools=[WEATHER])
    assert refused.param == "input[1].arguments"


def test_a_tool_claude_refuses_is_named_by_its_place_among_the_tools_sent() -> None:
    array = {**TIME, "parameters": {"type": "array"}}
    choice = {
        "type": "allowed_tools",
        "mode": "auto",
        "tools": [{"type": "function", "name": "get_time"}],
    }
    refused = _refused_by_claude(input="Hi", tools=[WEATHER, array], tool_choice=choice)
    assert refused.param == "tools[1].parameters"


def test_refusals_of_the_translation_itself_keep_their_responses_param() -> None:
    refused = _refused_by_claude(input="Hi", user=5, safety_identifier="s1")
    assert refused.param == "user"


BODY: dict[str, Any] = {
    "instructions": "Be brief.",
    "input": [
        {"role": "user", "content": "one"},
        {
            "type": "reasoning",
            "summary": [],
            "content": [{"type": "reasoning_text", "text": "t"}],
            "encrypted_content": "sig",
        },
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "a"}]},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call", "call_id": "c2", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "x"},
    ],
    "tools": [WEATHER, TIME],
    "user": "u1",
}


@pytest.mark.parametrize(
    ("chat", "responses"),
    [
        (None, None),
        ("reasoning_effort", "reasoning.effort"),
        ("max_completion_tokens", "max_output_tokens"),
        ("max_tokens", "max_output_tokens"),
        ("verbosity", "text.verbosity"),
        ("response_format", "text.format"),
        ("response_format.json_schema", "text.format"),
        ("response_format.json_schema.schema", "text.format.schema"),
        ("user", "user"),
        ("temperature", "temperature"),
        ("tool_choice", "tool_choice"),
        ("messages", "input"),
        ("messages[0]", "instructions"),
        ("messages[1].content[0]", "input[0]"),
        ("messages[2]", "input[1]"),
        ("messages[2].tool_calls[1].function.arguments", "input[4].arguments"),
        ("messages[2].tool_calls[0].id", "input[3].call_id"),
        ("messages[2].tool_calls[0]", "input[3]"),
        ("messages[3].tool_call_id", "input[5]"),
        ("messages[9]", "input"),
        ("tools[1].function.name", "tools[1].name"),
        ("tools[5]", "tools"),
    ],
)
def test_each_chat_field_maps_to_the_responses_field_it_came_from(
    chat: str | None, responses: str | None
) -> None:
    assert responses_param(BODY, chat) == responses


def test_safety_identifier_is_named_when_it_made_the_chat_user() -> None:
    assert responses_param({"input": "x", "safety_identifier": "s"}, "user") == "safety_identifier"
