"""Anthropic Messages request -> OpenAI chat request, through each OpenAI-wire provider's
adapter wrapped as the router wraps it; every chat request is checked against OpenAI's spec."""

from __future__ import annotations

from typing import Any

import pytest
from tests.support.messages_over_chat import (
    ADAPTER_IDS,
    CHAT_ADAPTERS,
    UPSTREAM_MODEL,
    chat_request,
    sdk_request_body,
)

from tollway_common.errors import InvalidRequest
from tollway_router.providers.adapter import Adapter

USER = {"role": "user", "content": "Hello"}
BASE: dict[str, Any] = {"model": "claude-sonnet-4-5", "max_tokens": 256, "messages": [USER]}
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
PNG = "iVBORw0KGgo="

adapters = pytest.mark.parametrize("adapter", CHAT_ADAPTERS, ids=ADAPTER_IDS)


def _chat(adapter: Adapter[Any], **fields: Any) -> dict[str, Any]:
    return chat_request(adapter, {**BASE, **fields})


def _refused(adapter: Adapter[Any], **fields: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as refused:
        _chat(adapter, **fields)
    assert refused.value.status == 400
    return refused.value


@pytest.mark.proves("messages_text")
@adapters
def test_a_plain_request_becomes_a_chat_request_bounded_by_max_tokens(
    adapter: Adapter[Any],
) -> None:
    chat = _chat(adapter)
    assert chat.pop("model") == UPSTREAM_MODEL
    assert chat == {"messages": [USER], "max_completion_tokens": 256}


@pytest.mark.proves("messages_system")
@adapters
def test_a_system_string_becomes_the_first_message(adapter: Adapter[Any]) -> None:
    chat = _chat(adapter, system="Be brief.")
    assert chat["messages"] == [{"role": "system", "content": "Be brief."}, USER]


@pytest.mark.proves("messages_system")
@adapters
def test_system_text_blocks_are_joined_and_their_cache_control_dropped(
    adapter: Adapter[Any],
) -> None:
    system = [
        {"type": "text", "text": "You are terse."},
        {"type": "text", "text": "Answer in French.", "cache_control": {"type": "ephemeral"}},
    ]
    chat = _chat(adapter, system=system)
    assert chat["messages"][0] == {
        "role": "system",
        "content": "You are terse.\n\nAnswer in French.",
    }


@pytest.mark.proves("messages_text")
@adapters
def test_turns_keep_their_order_and_text_blocks_become_text_parts(adapter: Adapter[Any]) -> None:
    messages = [
        {
            "role": "user",
            "content": [{"type": "text", "text": "One"}, {"type": "text", "text": "Two"}],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "Yes"}]},
        {"role": "user", "content": [{"type": "text", "text": "Three"}]},
    ]
    chat = _chat(adapter, messages=messages)
    assert chat["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "One"}, {"type": "text", "text": "Two"}],
        },
        {"role": "assistant", "content": "Yes"},
        {"role": "user", "content": "Three"},
    ]


@pytest.mark.proves("messages_images")
@adapters
def test_images_become_image_url_parts_from_base64_and_from_urls(adapter: Adapter[Any]) -> None:
    content = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
        {"type": "text", "text": "Which is a cat?"},
    ]
    chat = _chat(adapter, messages=[{"role": "user", "content": content}])
    assert chat["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                {"type": "text", "text": "Which is a cat?"},
            ],
        }
    ]


@pytest.mark.proves("messages_documents")
@adapters
def test_a_text_document_becomes_text_with_its_title_first(adapter: Adapter[Any]) -> None:
    document = {
        "type": "document",
        "title": "notes.txt",
        "source": {"type": "text", "media_type": "text/plain", "data": "Milk, eggs."},
        "citations": {"enabled": True},
    }
    chat = _chat(adapter, messages=[{"role": "user", "content": [document]}])
    assert chat["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "notes.txt"},
                {"type": "text", "text": "Milk, eggs."},
            ],
        }
    ]


@pytest.mark.proves("messages_documents")
@adapters
def test_a_pdf_document_is_refused_naming_its_source(adapter: Adapter[Any]) -> None:
    pdf = {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
    }
    refused = _refused(adapter, messages=[{"role": "user", "content": [pdf]}])
    assert refused.param == "messages[0].content[0].source.type"
    assert "only text documents" in refused.message


@pytest.mark.proves("messages_tool_round_trip")
@adapters
def test_tool_use_becomes_tool_calls_and_tool_results_tool_messages(adapter: Adapter[Any]) -> None:
    messages = [
        {"role": "user", "content": "Weather in Oslo and Paris?"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Two cities.", "signature": "c2ln"},
                {"type": "text", "text": "Checking."},
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "get_weather",
                    "input": {"city": "Oslo"},
                },
                {
                    "type": "tool_use",
                    "id": "toolu_2",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "4 C"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_2",
                    "content": [{"type": "text", "text": "no data"}],
                    "is_error": True,
                },
                {"type": "text", "text": "And tomorrow?"},
            ],
        },
    ]
    chat = _chat(adapter, messages=messages, tools=[WEATHER_TOOL])
    assert chat["messages"][1:] == [
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                },
                {
                    "id": "toolu_2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "4 C"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": "Error: no data"},
        {"role": "user", "content": "And tomorrow?"},
    ]


@pytest.mark.proves("messages_tool_round_trip")
@adapters
def test_an_image_a_tool_returned_follows_the_tool_message_in_a_user_message(
    adapter: Adapter[Any],
) -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    messages = [
        USER,
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_9", "name": "shot", "input": {}}],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_9",
                    "content": [{"type": "text", "text": "done"}, image],
                }
            ],
        },
    ]
    chat = _chat(adapter, messages=messages)
    assert chat["messages"][2:] == [
        {"role": "tool", "tool_call_id": "toolu_9", "content": "done"},
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
            ],
        },
    ]


@pytest.mark.proves("messages_tools")
@adapters
def test_tools_become_function_tools_with_their_schema_as_parameters(
    adapter: Adapter[Any],
) -> None:
    tool = {**WEATHER_TOOL, "cache_control": {"type": "ephemeral"}, "strict": True}
    chat = _chat(adapter, tools=[tool])
    assert chat["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": WEATHER_TOOL["input_schema"],
                "description": "Weather for a city",
                "strict": True,
            },
        }
    ]
    assert "tool_choice" not in chat


@pytest.mark.proves("messages_tools")
@adapters
@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
        (
            {"type": "tool", "name": "get_weather"},
            {"type": "function", "function": {"name": "get_weather"}},
        ),
    ],
)
def test_tool_choice_maps_to_its_chat_form(
    adapter: Adapter[Any], choice: dict[str, Any], expected: Any
) -> None:
    chat = _chat(adapter, tools=[WEATHER_TOOL], tool_choice=choice)
    assert chat["tool_choice"] == expected
    assert "parallel_tool_calls" not in chat


@pytest.mark.proves("messages_tools")
@adapters
def test_disable_parallel_tool_use_turns_parallel_tool_calls_off(adapter: Adapter[Any]) -> None:
    choice = {"type": "any", "disable_parallel_tool_use": True}
    chat = _chat(adapter, tools=[WEATHER_TOOL], tool_choice=choice)
    assert (chat["tool_choice"], chat["parallel_tool_calls"]) == ("required", False)


@pytest.mark.proves("messages_tools")
@adapters
def test_a_tool_choice_without_tools_is_left_out_as_chat_refuses_it(adapter: Adapter[Any]) -> None:
    chat = _chat(adapter, tool_choice={"type": "any", "disable_parallel_tool_use": True})
    assert not {"tools", "tool_choice", "parallel_tool_calls"} & set(chat)


@pytest.mark.proves("messages_tools")
@adapters
def test_a_tool_choice_naming_an_unknown_tool_is_refused(adapter: Adapter[Any]) -> None:
    refused = _refused(adapter, tools=[WEATHER_TOOL], tool_choice={"type": "tool", "name": "nope"})
    assert refused.param == "tool_choice.name"


@pytest.mark.proves("messages_refused")
@adapters
@pytest.mark.parametrize(
    "tool",
    [
        {"type": "web_search_20250305", "name": "web_search"},
        {"type": "bash_20250124", "name": "bash"},
        {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
    ],
)
def test_server_tools_are_refused_naming_the_tool(
    adapter: Adapter[Any], tool: dict[str, Any]
) -> None:
    refused = _refused(adapter, tools=[WEATHER_TOOL, tool])
    assert refused.param == "tools[1].type"
    assert tool["type"] in refused.message


@pytest.mark.proves("messages_refused")
@adapters
def test_mcp_servers_are_refused(adapter: Adapter[Any]) -> None:
    servers = [{"type": "url", "url": "https://mcp.example.com", "name": "x"}]
    assert _refused(adapter, mcp_servers=servers).param == "mcp_servers"


@pytest.mark.proves("messages_refused")
@adapters
@pytest.mark.parametrize(
    "block",
    [
        {
            "type": "search_result",
            "source": "s",
            "title": "t",
            "content": [{"type": "text", "text": "x"}],
        },
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
        {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
        {"type": "container_upload", "file_id": "file_1"},
    ],
    ids=lambda block: block["type"],
)
def test_blocks_only_anthropic_can_read_are_refused_naming_the_block(
    adapter: Adapter[Any], block: dict[str, Any]
) -> None:
    refused = _refused(adapter, messages=[{"role": "user", "content": [block]}])
    assert refused.param == "messages[0].content[0].type"


@pytest.mark.proves("messages_params")
@adapters
def test_sampling_stop_sequences_and_the_user_id_are_carried_and_top_k_dropped(
    adapter: Adapter[Any],
) -> None:
    chat = _chat(
        adapter,
        temperature=0.25,
        top_p=0.9,
        top_k=40,
        stop_sequences=["\n\nHuman:", "END"],
        metadata={"user_id": "user-42"},
        service_tier="auto",
        cache_control={"type": "ephemeral"},
    )
    assert {k: chat[k] for k in ("temperature", "top_p", "stop", "user")} == {
        "temperature": 0.25,
        "top_p": 0.9,
        "stop": ["\n\nHuman:", "END"],
        "user": "user-42",
    }
    assert not {"top_k", "service_tier", "cache_control", "metadata"} & set(chat)


@pytest.mark.proves("messages_params")
@adapters
def test_more_stop_sequences_than_chat_takes_are_refused(adapter: Adapter[Any]) -> None:
    refused = _refused(adapter, stop_sequences=["a", "b", "c", "d", "e"])
    assert refused.param == "stop_sequences"


@pytest.mark.proves("messages_params")
@adapters
def test_a_temperature_above_anthropics_range_is_refused(adapter: Adapter[Any]) -> None:
    assert _refused(adapter, temperature=1.5).param == "temperature"


@pytest.mark.proves("messages_thinking")
@adapters
@pytest.mark.parametrize(
    ("budget", "effort"), [(1024, "low"), (4095, "low"), (4096, "medium"), (16384, "high")]
)
def test_an_enabled_thinking_budget_becomes_a_reasoning_effort(
    adapter: Adapter[Any], budget: int, effort: str
) -> None:
    chat = _chat(adapter, max_tokens=32000, thinking={"type": "enabled", "budget_tokens": budget})
    assert (chat["reasoning_effort"], chat["max_completion_tokens"]) == (effort, 32000)


@pytest.mark.proves("messages_thinking")
@adapters
@pytest.mark.parametrize("kind", ["adaptive", "disabled"])
def test_adaptive_or_disabled_thinking_leaves_the_deployments_default(
    adapter: Adapter[Any], kind: str
) -> None:
    assert "reasoning_effort" not in _chat(adapter, thinking={"type": kind})


@pytest.mark.proves("messages_thinking")
@adapters
def test_output_config_effort_wins_over_the_thinking_budget(adapter: Adapter[Any]) -> None:
    chat = _chat(
        adapter,
        thinking={"type": "enabled", "budget_tokens": 1024},
        output_config={"effort": "max"},
    )
    assert chat["reasoning_effort"] == "high"


@pytest.mark.proves("messages_params")
@adapters
def test_a_json_schema_output_format_becomes_a_json_schema_response_format(
    adapter: Adapter[Any],
) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    chat = _chat(adapter, output_config={"format": {"type": "json_schema", "schema": schema}})
    assert chat["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": schema},
    }


@pytest.mark.proves("messages_stream_usage")
@adapters
def test_a_stream_asks_the_deployment_for_usage(adapter: Adapter[Any]) -> None:
    chat = _chat(adapter, stream=True)
    assert (chat["stream"], chat["stream_options"]) == (True, {"include_usage": True})


@adapters
def test_tool_input_nested_too_deep_to_encode_is_a_client_error(adapter: Adapter[Any]) -> None:
    deep: dict[str, Any] = {}
    for _ in range(300):
        deep = {"a": deep}
    call = {"type": "tool_use", "id": "toolu_1", "name": "f", "input": deep}
    refused = _refused(adapter, messages=[USER, {"role": "assistant", "content": [call]}])
    assert refused.param == "messages[1].content[0].input"


@adapters
def test_an_empty_conversation_is_refused(adapter: Adapter[Any]) -> None:
    assert _refused(adapter, messages=[]).param == "messages"


@pytest.mark.proves("messages_tools")
@pytest.mark.proves("messages_thinking")
@adapters
def test_what_the_anthropic_sdk_sends_translates(adapter: Adapter[Any]) -> None:
    body = sdk_request_body(
        model="claude-sonnet-4-6",
        max_tokens=4096,
        system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "Weather in Oslo?"}],
        tools=[WEATHER_TOOL],
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
        thinking={"type": "enabled", "budget_tokens": 2048},
        metadata={"user_id": "user-42"},
        stop_sequences=["END"],
    )
    chat = chat_request(adapter, body)
    assert chat["tool_choice"] == "auto"
    assert chat["parallel_tool_calls"] is False
    assert (chat["reasoning_effort"], chat["user"], chat["stop"]) == ("low", "user-42", ["END"])
    assert chat["messages"][0] == {"role": "system", "content": "Be brief."}
