"""OpenAI Responses request -> OpenAI chat request, through each OpenAI-wire provider's chat
adapter wrapped as the router wraps it; every chat request is checked against OpenAI's spec.
Bodies come from the openai SDK's own `responses.create` where the SDK can spell them."""

from __future__ import annotations

from typing import Any

import pytest
from tests.support.responses_over_chat import (
    ADAPTER_IDS,
    ANTHROPIC,
    CHAT_ADAPTERS,
    UPSTREAM_MODEL,
    chat_request,
    sdk_request_body,
    upstream_body,
)

from tollway_common.errors import InvalidRequest
from tollway_router.providers.adapter import Adapter

BASE: dict[str, Any] = {"model": "claude-sonnet-4-5", "max_output_tokens": 256}
USER = {"role": "user", "content": "Weather in Oslo?"}
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    "strict": True,
}
WEATHER_CHAT = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": WEATHER["parameters"],
        "strict": True,
    },
}
TIME = {"type": "function", "name": "get_time", "parameters": {"type": "object"}, "strict": False}
PNG = "data:image/png;base64,iVBORw0KGgo="

adapters = pytest.mark.parametrize("adapter", CHAT_ADAPTERS, ids=ADAPTER_IDS)


def _chat(adapter: Adapter[Any], **fields: Any) -> dict[str, Any]:
    chat = chat_request(adapter, {**BASE, "input": "Hello", **fields})
    assert chat.pop("model") == UPSTREAM_MODEL
    return chat


@adapters
def test_a_string_input_is_one_user_message_bounded_by_max_output_tokens(
    adapter: Adapter[Any],
) -> None:
    body = sdk_request_body(**BASE, input="Hello")
    assert chat_request(adapter, body) == {
        "model": UPSTREAM_MODEL,
        "messages": [{"role": "user", "content": "Hello"}],
        "max_completion_tokens": 256,
    }


@adapters
def test_instructions_lead_and_system_and_developer_messages_become_system(
    adapter: Adapter[Any],
) -> None:
    items = [
        {"type": "message", "role": "developer", "content": "Answer in French."},
        {"role": "system", "content": [{"type": "input_text", "text": "Be brief."}]},
        USER,
    ]
    body = sdk_request_body(**BASE, instructions="You are terse.", input=items)
    assert chat_request(adapter, body)["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "system", "content": "Answer in French."},
        {"role": "system", "content": "Be brief."},
        USER,
    ]


@adapters
def test_user_parts_become_chat_parts_and_a_single_text_part_a_string(
    adapter: Adapter[Any],
) -> None:
    items = [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "What is this?"},
                {"type": "input_image", "image_url": PNG, "detail": "low"},
                {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "auto"},
            ],
        },
    ]
    assert _chat(adapter, input=items)["messages"] == [
        {"role": "user", "content": "Hi"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": PNG, "detail": "low"}},
                {
                    "type": "image_url",
                    "image_url": {"url": "https://example.com/a.png", "detail": "auto"},
                },
            ],
        },
    ]


@adapters
def test_an_earlier_responses_output_becomes_one_assistant_turn_and_its_tool_results(
    adapter: Adapter[Any],
) -> None:
    """What the store expands previous_response_id into: the earlier output items (reasoning,
    a message, two function calls) and the client's new tool results."""
    items = [
        USER,
        {"type": "reasoning", "id": "rs_1", "summary": [], "content": []},
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "Let me check.", "annotations": []}],
        },
        {
            "type": "function_call",
            "id": "fc_1",
            "call_id": "call_a",
            "name": "get_weather",
            "arguments": '{"city": "Oslo"}',
            "status": "completed",
        },
        {
            "type": "function_call",
            "call_id": "call_b",
            "name": "get_time",
            "arguments": "{}",
        },
        {"type": "function_call_output", "call_id": "call_a", "output": "12 C"},
        {
            "type": "function_call_output",
            "call_id": "call_b",
            "output": [{"type": "input_text", "text": "10:00"}],
        },
        {"role": "user", "content": "Thanks"},
    ]
    chat = _chat(adapter, input=items, tools=[WEATHER, TIME])
    call_a = {"name": "get_weather", "arguments": '{"city": "Oslo"}'}
    assert chat["messages"] == [
        USER,
        {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [
                {"id": "call_a", "type": "function", "function": call_a},
                {
                    "id": "call_b",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": "{}"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": "12 C"},
        {"role": "tool", "tool_call_id": "call_b", "content": "10:00"},
        {"role": "user", "content": "Thanks"},
    ]


@adapters
def test_function_calls_without_text_and_an_assistant_refusal_are_assistant_turns(
    adapter: Adapter[Any],
) -> None:
    items = [
        USER,
        {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
        {
            "role": "assistant",
            "content": [{"type": "refusal", "refusal": "I cannot say."}],
        },
    ]
    assert _chat(adapter, input=items, tools=[WEATHER])["messages"] == [
        USER,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        {"role": "assistant", "content": "I cannot say."},
    ]


@adapters
def test_images_a_tool_returned_follow_the_tool_results_as_a_user_message(
    adapter: Adapter[Any],
) -> None:
    items = [
        USER,
        {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"},
        {
            "type": "function_call_output",
            "call_id": "c1",
            "output": [
                {"type": "input_text", "text": "map:"},
                {"type": "input_image", "image_url": PNG},
            ],
        },
    ]
    messages = _chat(adapter, input=items, tools=[WEATHER])["messages"]
    assert messages[2:] == [
        {"role": "tool", "tool_call_id": "c1", "content": "map:"},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": PNG}}]},
    ]


@pytest.mark.parametrize(
    ("asked", "sent"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("required", "required"),
        (
            {"type": "function", "name": "get_weather"},
            {"type": "function", "function": {"name": "get_weather"}},
        ),
    ],
)
@adapters
def test_function_tools_and_tool_choice_map_to_chat(
    adapter: Adapter[Any], asked: Any, sent: Any
) -> None:
    body = sdk_request_body(
        **BASE, input="Hi", tools=[WEATHER], tool_choice=asked, parallel_tool_calls=False
    )
    chat = chat_request(adapter, body)
    assert chat["tools"] == [WEATHER_CHAT]
    assert chat["tool_choice"] == sent
    assert chat["parallel_tool_calls"] is False


@adapters
def test_allowed_tools_narrow_the_tools_sent(adapter: Adapter[Any]) -> None:
    choice = {
        "type": "allowed_tools",
        "mode": "required",
        "tools": [{"type": "function", "name": "get_time"}],
    }
    chat = _chat(adapter, tools=[WEATHER, TIME], tool_choice=choice)
    assert chat["tool_choice"] == "required"
    assert [tool["function"]["name"] for tool in chat["tools"]] == ["get_time"]


@adapters
def test_tool_choice_and_parallel_tool_calls_without_tools_are_left_out(
    adapter: Adapter[Any],
) -> None:
    chat = _chat(adapter, tool_choice="auto", parallel_tool_calls=True)
    assert "tool_choice" not in chat
    assert "parallel_tool_calls" not in chat


@pytest.mark.parametrize(
    ("text", "response_format"),
    [
        ({"format": {"type": "text"}}, None),
        ({"format": {"type": "json_object"}}, {"type": "json_object"}),
        (
            {
                "format": {
                    "type": "json_schema",
                    "name": "weather",
                    "description": "A forecast",
                    "schema": {"type": "object", "properties": {"c": {"type": "number"}}},
                    "strict": True,
                }
            },
            {
                "type": "json_schema",
                "json_schema": {
                    "name": "weather",
                    "description": "A forecast",
                    "schema": {"type": "object", "properties": {"c": {"type": "number"}}},
                    "strict": True,
                },
            },
        ),
    ],
    ids=["text", "json_object", "json_schema"],
)
@adapters
def test_text_format_becomes_response_format(
    adapter: Adapter[Any], text: dict[str, Any], response_format: Any
) -> None:
    chat = chat_request(adapter, sdk_request_body(**BASE, input="Hi", text=text))
    assert chat.get("response_format") == response_format


@adapters
def test_sampling_effort_verbosity_identity_and_streaming_are_carried(
    adapter: Adapter[Any],
) -> None:
    body = sdk_request_body(
        **BASE,
        input="Hi",
        temperature=0.5,
        top_p=0.9,
        reasoning={"effort": "high", "summary": "auto"},
        text={"verbosity": "low"},
        safety_identifier="user-42",
        prompt_cache_key="k1",
        stream=True,
    )
    chat = chat_request(adapter, body)
    assert {name: chat[name] for name in chat if name not in ("model", "messages")} == {
        "max_completion_tokens": 256,
        "temperature": 0.5,
        "top_p": 0.9,
        "reasoning_effort": "high",
        "verbosity": "low",
        "user": "user-42",
        "prompt_cache_key": "k1",
        "stream": True,
        "stream_options": {"include_usage": True},
    }


@adapters
def test_fields_the_gateway_handles_itself_do_not_reach_chat(adapter: Adapter[Any]) -> None:
    chat = _chat(
        adapter,
        previous_response_id="resp_1",
        store=True,
        metadata={"team": "a"},
        include=["reasoning.encrypted_content"],
        truncation="disabled",
        background=False,
    )
    assert chat == {
        "messages": [{"role": "user", "content": "Hello"}],
        "max_completion_tokens": 256,
    }


@adapters
def test_reasoning_without_a_signature_is_dropped(adapter: Adapter[Any]) -> None:
    items = [
        USER,
        {
            "type": "reasoning",
            "summary": [],
            "content": [{"type": "reasoning_text", "text": "Thinking..."}],
        },
        {"role": "assistant", "content": "Sunny."},
    ]
    assert _chat(adapter, input=items)["messages"] == [
        USER,
        {"role": "assistant", "content": "Sunny."},
    ]


def test_signed_reasoning_reaches_claude_as_a_thinking_block_before_the_tool_call() -> None:
    """A reasoning item this gateway made from Claude's thinking carries its signature as
    encrypted_content; sent back, it is the thinking block Claude checks in a tool turn."""
    items = [
        USER,
        {
            "type": "reasoning",
            "id": "rs_1",
            "summary": [],
            "content": [{"type": "reasoning_text", "text": "Need the weather."}],
            "encrypted_content": "sig-123",
        },
        {"type": "function_call", "call_id": "toolu_1", "name": "get_weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "toolu_1", "output": "sunny"},
    ]
    claude = upstream_body(ANTHROPIC, {**BASE, "input": items, "tools": [WEATHER]})
    assert claude["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "Need the weather.", "signature": "sig-123"},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}},
        ],
    }


def _item(**fields: Any) -> list[dict[str, Any]]:
    return [fields]


REFUSED = [
    ({"tools": [{"type": "web_search"}]}, "tools[0].type", "web_search"),
    (
        {"tools": [{"type": "file_search", "vector_store_ids": ["v"]}]},
        "tools[0].type",
        "file_search",
    ),
    (
        {"tools": [{"type": "code_interpreter", "container": "c"}]},
        "tools[0].type",
        "code_interpreter",
    ),
    ({"tools": [{"type": "mcp", "server_label": "s"}]}, "tools[0].type", "mcp"),
    ({"tools": [{"type": "image_generation"}]}, "tools[0].type", "image_generation"),
    ({"tools": [{"type": "computer_use_preview"}]}, "tools[0].type", "computer_use_preview"),
    ({"tools": [{"type": "custom", "name": "x"}]}, "tools[0].type", "custom"),
    (
        {"input": _item(role="user", content=[{"type": "input_image", "file_id": "file_1"}])},
        "input[0].content[0].file_id",
        "image_url",
    ),
    (
        {"input": _item(role="user", content=[{"type": "input_file", "file_id": "file_1"}])},
        "input[0].content[0].type",
        "files",
    ),
    ({"input": _item(type="item_reference", id="msg_1")}, "input[0].type", "previous_response_id"),
    ({"input": _item(type="web_search_call", id="ws_1")}, "input[0].type", "web_search_call"),
    ({"input": 5}, "input", "array"),
    ({"input": []}, "input", "at least one"),
    ({"input": _item(role="user", content=[])}, "input", "at least one"),
    ({"input": ["hi"]}, "input[0]", "object"),
    ({"input": _item(foo=1)}, "input[0].type", "type or a role"),
    ({"input": _item(role="tool", content="x")}, "input[0].role", "one of"),
    ({"input": _item(role="user", content=7)}, "input[0].content", "array"),
    (
        {"input": _item(role="user", content=[{"type": "audio"}])},
        "input[0].content[0].type",
        "input_text",
    ),
    (
        {"input": _item(role="assistant", content=[{"type": "input_image"}])},
        "input[0].content[0].type",
        "text part",
    ),
    (
        {"input": _item(type="function_call", name="f", arguments="{}")},
        "input[0].call_id",
        "string",
    ),
    (
        {"input": _item(type="function_call", call_id="c", name="f", arguments={})},
        "input[0].arguments",
        "string",
    ),
    (
        {"input": _item(type="function_call_output", call_id="c", output=3)},
        "input[0].output",
        "array",
    ),
    ({"instructions": ["x"]}, "instructions", "string"),
    ({"temperature": "hot"}, "temperature", "number"),
    ({"top_p": 2}, "top_p", "number"),
    (
        {"tools": [WEATHER], "tool_choice": {"type": "function", "name": "nope"}},
        "tool_choice.name",
        "nope",
    ),
    (
        {"tools": [WEATHER], "tool_choice": {"type": "web_search_preview"}},
        "tool_choice.type",
        "OpenAI",
    ),
    ({"tools": [WEATHER], "tool_choice": "any"}, "tool_choice", "auto, none, required"),
    ({"tools": [WEATHER], "tool_choice": {"name": "f"}}, "tool_choice.type", "function or"),
    (
        {"tools": [{"type": "function", "name": "f", "parameters": "x"}]},
        "tools[0].parameters",
        "object",
    ),
    ({"text": {"format": {"type": "json_schema", "name": "x"}}}, "text.format.schema", "object"),
    ({"text": {"format": {"type": "grammar"}}}, "text.format.type", "json_schema"),
    ({"reasoning": {"effort": "max"}}, "reasoning.effort", "one of"),
    ({"prompt": {"id": "pmpt_1"}}, "prompt", "OpenAI"),
    ({"conversation": "conv_1"}, "conversation", "OpenAI"),
    ({"user": 5}, "user", "string"),
]


@pytest.mark.parametrize(("fields", "param", "says"), REFUSED)
def test_what_chat_cannot_carry_or_a_malformed_field_is_a_400_naming_it(
    fields: dict[str, Any], param: str, says: str
) -> None:
    [adapter, *_] = CHAT_ADAPTERS
    with pytest.raises(InvalidRequest) as refused:
        _chat(adapter, **fields)
    assert refused.value.status == 400
    assert refused.value.param == param
    assert says in refused.value.message


@pytest.mark.parametrize("kind", ["web_search", "file_search", "code_interpreter", "mcp"])
def test_a_built_in_tool_is_refused_saying_where_it_is_served(kind: str) -> None:
    [adapter, *_] = CHAT_ADAPTERS
    with pytest.raises(InvalidRequest) as refused:
        _chat(adapter, tools=[{"type": kind}])
    assert f"the {kind!r} tool can be used only on OpenAI and Azure OpenAI deployments" in (
        refused.value.message
    )


def test_a_full_request_reaches_claude_through_its_chat_adapter() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "required": ["a"],
        "additionalProperties": False,
    }
    body = sdk_request_body(
        model="claude-sonnet-4-5",
        max_output_tokens=2000,
        instructions="Be brief.",
        input=[
            {"role": "developer", "content": "Answer in French."},
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Hi"},
                    {"type": "input_image", "image_url": PNG, "detail": "auto"},
                ],
            },
        ],
        tools=[WEATHER],
        parallel_tool_calls=False,
        reasoning={"effort": "medium"},
        text={"format": {"type": "json_schema", "name": "x", "schema": schema, "strict": True}},
        safety_identifier="u1",
        stream=True,
    )
    claude = upstream_body(ANTHROPIC, body)
    assert claude["system"] == [
        {"type": "text", "text": "Be brief."},
        {"type": "text", "text": "Answer in French."},
    ]
    assert claude["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Hi"},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
                },
            ],
        }
    ]
    assert claude["max_tokens"] == 2000
    assert [tool["name"] for tool in claude["tools"]] == ["get_weather"]
    assert claude["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    assert claude["output_config"]["format"] == {"type": "json_schema", "schema": schema}
    assert claude["metadata"] == {"user_id": "u1"}
    assert claude["stream"] is True
