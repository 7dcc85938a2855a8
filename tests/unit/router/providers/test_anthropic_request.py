"""OpenAI chat requests -> Anthropic Messages bodies, each checked against Anthropic's spec."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from tests.support import fixtures
from tests.support.anthropic_schema import validate_anthropic_request
from tests.support.openai_schema import validate_openai_request

from tollway_common import errors
from tollway_common.contract import Endpoint, RequestFacts
from tollway_common.control import Deployment
from tollway_common.providers import FACTS, Provider
from tollway_edge.request_facts import read_facts
from tollway_router.providers import anthropic
from tollway_router.providers.adapter import HttpCall
from tollway_router.providers.anthropic import request

TARGET = Deployment(name="claude", provider="anthropic", model="claude-sonnet-4-5-20250929")
HELLO = {"role": "user", "content": "Hello"}
WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}


def _build(
    body: dict[str, Any],
    target: Deployment = TARGET,
    endpoint: Endpoint = Endpoint.CHAT_COMPLETIONS,
) -> HttpCall:
    """The call for `body` with the facts an edge sends along with it."""
    return request.build_request(endpoint, body, read_facts(endpoint, body), target)


def _send(body: dict[str, Any], target: Deployment = TARGET) -> dict[str, Any]:
    call = _build({"model": "claude", **body}, target)
    sent: dict[str, Any] = orjson.loads(call.body)
    validate_anthropic_request(sent)
    return sent


def _user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "text", "text": text}]}


@pytest.mark.parametrize(
    "case",
    [
        "text_stream",
        "thinking_stream",
        "tool_calls_stream",
        "json_schema_stream",
        "chat",
        "conversation",
    ],
)
def test_recorded_requests_translate_to_the_recorded_bodies(case: str) -> None:
    body = fixtures.load_json("anthropic", case, "request.json")
    validate_openai_request(Endpoint.CHAT_COMPLETIONS, body)
    call = _build(body)
    sent = orjson.loads(call.body)
    validate_anthropic_request(sent)
    assert sent == fixtures.load_json("anthropic", case, "upstream.json")
    assert call.stream is bool(body.get("stream"))


@pytest.mark.proves("anthropic_sdk", "anthropic")
def test_call_goes_to_messages_with_the_api_version() -> None:
    call = _build({"messages": [HELLO]})
    assert (call.method, call.path, call.stream) == ("POST", "/v1/messages", False)
    assert call.headers == {"anthropic-version": "2023-06-01"}
    assert "stream" not in orjson.loads(call.body)


@pytest.mark.proves("anthropic_sdk", "anthropic")
def test_the_secret_goes_in_x_api_key() -> None:
    assert anthropic.ADAPTER.auth_header("sk-ant-test") == ("x-api-key", "sk-ant-test")
    served = {
        Endpoint.CHAT_COMPLETIONS,
        Endpoint.COMPLETIONS,
        Endpoint.MESSAGES,
        Endpoint.MESSAGES_COUNT_TOKENS,
    }
    assert served <= FACTS[Provider.ANTHROPIC].endpoints


@pytest.mark.proves("legacy_endpoints", "anthropic")
def test_embeddings_are_refused() -> None:
    with pytest.raises(errors.InvalidRequest, match="not embeddings"):
        _build({"input": "x"}, endpoint=Endpoint.EMBEDDINGS)


@pytest.mark.proves("system_developer", "anthropic")
def test_system_and_developer_messages_become_system_blocks_in_order() -> None:
    sent = _send(
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "developer", "content": [{"type": "text", "text": "Use metric."}]},
                HELLO,
                {"role": "system", "content": [{"type": "text", "text": "Late rule."}]},
            ]
        }
    )
    assert sent["system"] == [
        {"type": "text", "text": "Be brief."},
        {"type": "text", "text": "Use metric."},
        {"type": "text", "text": "Late rule."},
    ]
    assert sent["messages"] == [_user("Hello")]


@pytest.mark.proves("system_developer", "anthropic")
def test_no_system_key_without_system_messages() -> None:
    assert "system" not in _send({"messages": [HELLO]})


@pytest.mark.proves("text_parts", "anthropic")
def test_text_parts_of_user_and_assistant_are_kept_and_empty_ones_dropped() -> None:
    sent = _send(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "a"}, {"type": "text", "text": ""}],
                },
                {"role": "assistant", "content": [{"type": "text", "text": "b"}]},
                {"role": "assistant", "content": ""},
                {"role": "user", "content": "c"},
            ]
        }
    )
    assert sent["messages"] == [
        _user("a"),
        {"role": "assistant", "content": [{"type": "text", "text": "b"}]},
        _user("c"),
    ]


@pytest.mark.parametrize(
    ("url", "source"),
    [
        (
            "data:image/jpeg;base64,/9j/4AAQSkZJRg==",
            {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQSkZJRg=="},
        ),
        ("https://example.com/cat.webp", {"type": "url", "url": "https://example.com/cat.webp"}),
        ("http://example.com/cat.gif", {"type": "url", "url": "http://example.com/cat.gif"}),
    ],
)
@pytest.mark.proves("images", "anthropic")
def test_images_become_base64_or_url_sources(url: str, source: dict[str, str]) -> None:
    part = {"type": "image_url", "image_url": {"url": url, "detail": "high"}}
    sent = _send({"messages": [{"role": "user", "content": [part]}]})
    assert sent["messages"][0]["content"] == [{"type": "image", "source": source}]


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("data:image/svg+xml;base64,PHN2Zz4=", "not image/svg"),
        ("data:image/png,rawbytes", "base64 data URL"),
        ("ftp://example.com/a.png", "base64 data URL"),
    ],
)
@pytest.mark.proves("images", "anthropic")
def test_images_claude_cannot_read_are_refused(url: str, match: str) -> None:
    part = {"type": "image_url", "image_url": {"url": url}}
    with pytest.raises(errors.InvalidRequest, match=match) as caught:
        _send({"messages": [{"role": "user", "content": [part]}]})
    assert caught.value.param == "messages[0].content[0].image_url.url"


@pytest.mark.proves("text_parts", "anthropic")
def test_unsupported_content_parts_are_refused_not_dropped() -> None:
    part = {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
    with pytest.raises(errors.InvalidRequest, match="text part") as caught:
        _send({"messages": [{"role": "user", "content": [part]}]})
    assert caught.value.param == "messages[0].content[0]"


@pytest.mark.proves("tool_calls_round_trip", "anthropic")
@pytest.mark.proves("tool_results_merged", "anthropic")
def test_assistant_tool_calls_become_tool_use_with_parsed_input() -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
    }
    empty = {"id": "call_2", "type": "function", "function": {"name": "now", "arguments": ""}}
    sent = _send(
        {
            "messages": [
                HELLO,
                {"role": "assistant", "content": "Checking.", "tool_calls": [call, empty]},
                {"role": "tool", "tool_call_id": "call_1", "content": "4°C"},
                {"role": "tool", "tool_call_id": "call_2", "content": ""},
            ]
        }
    )
    assert sent["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {
                    "type": "tool_use",
                    "id": "call_1",
                    "name": "get_weather",
                    "input": {"city": "Oslo"},
                },
                {"type": "tool_use", "id": "call_2", "name": "now", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "4°C"},
                {"type": "tool_result", "tool_use_id": "call_2"},
            ],
        },
    ]


@pytest.mark.parametrize("arguments", ["{not json", "[1, 2]"])
@pytest.mark.proves("tool_calls_round_trip", "anthropic")
def test_tool_call_arguments_that_are_not_an_object_are_refused(arguments: str) -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": arguments}}
    with pytest.raises(errors.InvalidRequest) as caught:
        _send({"messages": [HELLO, {"role": "assistant", "tool_calls": [call]}]})
    assert caught.value.param == "messages[1].tool_calls[0].function.arguments"


@pytest.mark.proves("tool_results_merged", "anthropic")
def test_consecutive_tool_results_and_a_user_message_share_one_user_turn() -> None:
    calls = [
        {"id": f"call_{i}", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        for i in (1, 2)
    ]
    sent = _send(
        {
            "messages": [
                HELLO,
                {"role": "assistant", "content": None, "tool_calls": calls},
                {"role": "tool", "tool_call_id": "call_1", "content": "one"},
                {"role": "tool", "tool_call_id": "call_2", "content": "two"},
                {"role": "user", "content": "thanks"},
            ]
        }
    )
    assert [turn["role"] for turn in sent["messages"]] == ["user", "assistant", "user"]
    assert sent["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "one"},
        {"type": "tool_result", "tool_use_id": "call_2", "content": "two"},
        {"type": "text", "text": "thanks"},
    ]


@pytest.mark.proves("tools", "anthropic")
def test_tools_become_input_schemas() -> None:
    bare = {"type": "function", "function": {"name": "now", "description": "The time."}}
    sent = _send({"messages": [HELLO], "tools": [WEATHER, bare]})
    assert sent["tools"] == [
        {"name": "get_weather", "input_schema": WEATHER["function"]["parameters"]},
        {
            "name": "now",
            "description": "The time.",
            "input_schema": {"type": "object", "properties": {}},
        },
    ]
    assert "tool_choice" not in sent


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"type": "auto"}),
        ("none", {"type": "none"}),
        ("required", {"type": "any"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"type": "tool", "name": "get_weather"},
        ),
    ],
)
@pytest.mark.proves("tool_choice", "anthropic")
def test_tool_choice_maps_to_claude(choice: Any, expected: dict[str, str]) -> None:
    sent = _send({"messages": [HELLO], "tools": [WEATHER], "tool_choice": choice})
    assert sent["tool_choice"] == expected


@pytest.mark.proves("tool_choice", "anthropic")
def test_unknown_tool_choice_is_refused() -> None:
    choice = {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}}
    with pytest.raises(errors.InvalidRequest, match="tool_choice"):
        _send({"messages": [HELLO], "tools": [WEATHER], "tool_choice": choice})


@pytest.mark.proves("tools", "anthropic")
def test_non_function_tools_are_refused() -> None:
    with pytest.raises(errors.InvalidRequest, match="only function tools") as caught:
        _send({"messages": [HELLO], "tools": [{"type": "custom", "custom": {"name": "x"}}]})
    assert caught.value.param == "tools[0]"


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (None, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", {"type": "any", "disable_parallel_tool_use": True}),
        ("none", {"type": "none"}),
    ],
)
@pytest.mark.proves("parallel_tool_calls", "anthropic")
def test_parallel_tool_calls_false_disables_parallel_tool_use(
    choice: Any, expected: dict[str, Any]
) -> None:
    body = {"messages": [HELLO], "tools": [WEATHER], "parallel_tool_calls": False}
    if choice is not None:
        body["tool_choice"] = choice
    assert _send(body)["tool_choice"] == expected


@pytest.mark.proves("response_format", "anthropic")
def test_json_object_forces_the_json_tool() -> None:
    sent = _send({"messages": [HELLO], "response_format": {"type": "json_object"}})
    assert sent["tools"] == [
        {
            "name": "json_response",
            "description": "Give the answer as a JSON object.",
            "input_schema": {"type": "object"},
        }
    ]
    assert sent["tool_choice"] == {"type": "tool", "name": "json_response"}


@pytest.mark.proves("response_format", "anthropic")
def test_json_schema_is_the_forced_tools_input_schema_without_native_structured_outputs() -> None:
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "answer", "description": "The answer.", "schema": SCHEMA},
    }
    older = TARGET.model_copy(update={"model": "claude-opus-4-1-20250805"})
    sent = _send({"messages": [HELLO], "response_format": response_format}, older)
    assert sent["tools"] == [
        {"name": "json_response", "description": "The answer.", "input_schema": SCHEMA}
    ]
    assert sent["tool_choice"] == {"type": "tool", "name": "json_response"}
    assert "output_config" not in sent


def test_text_response_format_adds_nothing() -> None:
    assert "tools" not in _send({"messages": [HELLO], "response_format": {"type": "text"}})


@pytest.mark.proves("response_format", "anthropic")
def test_json_mode_beside_client_tools_makes_claude_call_one_of_them() -> None:
    sent = _send(
        {"messages": [HELLO], "tools": [WEATHER], "response_format": {"type": "json_object"}}
    )
    assert [tool["name"] for tool in sent["tools"]] == ["get_weather", "json_response"]
    assert sent["tool_choice"] == {"type": "any"}


@pytest.mark.proves("response_format", "anthropic")
def test_json_mode_with_tool_choice_none_still_forces_json() -> None:
    sent = _send(
        {
            "messages": [HELLO],
            "tools": [WEATHER],
            "tool_choice": "none",
            "response_format": {"type": "json_object"},
        }
    )
    assert sent["tool_choice"] == {"type": "tool", "name": "json_response"}


@pytest.mark.parametrize(
    ("response_format", "param"),
    [
        (
            {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "array"}}},
            "response_format.json_schema.schema",
        ),
        ({"type": "json_schema"}, "response_format"),
        ({"type": "yaml"}, "response_format"),
    ],
)
@pytest.mark.proves("response_format", "anthropic")
def test_response_formats_claude_cannot_honour_are_refused(
    response_format: dict[str, Any], param: str
) -> None:
    with pytest.raises(errors.InvalidRequest) as caught:
        _send({"messages": [HELLO], "response_format": response_format})
    assert caught.value.param == param


@pytest.mark.proves("response_format", "anthropic")
def test_the_json_tool_name_is_reserved() -> None:
    tool = {"type": "function", "function": {"name": "json_response"}}
    with pytest.raises(errors.InvalidRequest, match="reserved"):
        _send({"messages": [HELLO], "tools": [tool]})


@pytest.mark.parametrize(("stop", "expected"), [("END", ["END"]), (["a", "b"], ["a", "b"])])
@pytest.mark.proves("stop", "anthropic")
def test_stop_becomes_stop_sequences(stop: Any, expected: list[str]) -> None:
    assert _send({"messages": [HELLO], "stop": stop})["stop_sequences"] == expected


@pytest.mark.parametrize(
    ("body", "target", "expected"),
    [
        ({}, TARGET, 4096),
        ({}, TARGET.model_copy(update={"default_max_tokens": 8000}), 8000),
        ({"max_tokens": 100}, TARGET, 100),
        ({"max_tokens": 100, "max_completion_tokens": 200}, TARGET, 200),
    ],
)
@pytest.mark.proves("max_tokens", "anthropic")
def test_max_tokens_has_a_default(body: dict[str, Any], target: Deployment, expected: int) -> None:
    assert _send({"messages": [HELLO], **body}, target)["max_tokens"] == expected


@pytest.mark.proves("max_tokens", "anthropic")
def test_max_tokens_is_the_bound_the_edge_decided_not_a_field_of_the_body() -> None:
    body = {"messages": [HELLO], "max_completion_tokens": 100}
    call = request.build_request(
        Endpoint.CHAT_COMPLETIONS, body, RequestFacts(max_tokens=300), TARGET
    )
    assert orjson.loads(call.body)["max_tokens"] == 300


@pytest.mark.proves("sampling", "anthropic")
def test_sampling_is_sent_only_when_set() -> None:
    sent = _send({"messages": [HELLO]})
    assert "temperature" not in sent
    assert "top_p" not in sent
    sent = _send({"messages": [HELLO], "top_p": 0.5})
    assert sent["top_p"] == 0.5
    sent = _send({"messages": [HELLO], "temperature": 0})
    assert sent["temperature"] == 0


@pytest.mark.parametrize(("name", "value"), [("temperature", 1.5), ("top_p", "high")])
@pytest.mark.proves("sampling", "anthropic")
def test_sampling_outside_claudes_range_is_refused(name: str, value: Any) -> None:
    with pytest.raises(errors.InvalidRequest, match="between 0 and 1") as caught:
        _send({"messages": [HELLO], name: value})
    assert caught.value.param == name


@pytest.mark.proves("user", "anthropic")
def test_user_becomes_metadata_user_id() -> None:
    assert _send({"messages": [HELLO], "user": "u-42"})["metadata"] == {"user_id": "u-42"}


@pytest.mark.parametrize(
    ("effort", "budget", "max_tokens"),
    [("low", 1024, 4096), ("medium", 4096, 8192), ("high", 16384, 20480)],
)
@pytest.mark.proves("reasoning", "anthropic")
def test_reasoning_effort_sets_a_thinking_budget_below_max_tokens(
    effort: str, budget: int, max_tokens: int
) -> None:
    sent = _send({"messages": [HELLO], "reasoning_effort": effort})
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": budget}
    assert sent["max_tokens"] == max_tokens


@pytest.mark.proves("reasoning", "anthropic")
@pytest.mark.proves("max_tokens", "anthropic")
def test_thinking_fits_inside_the_requests_max_tokens() -> None:
    # Claude counts thinking inside max_tokens; the client's bound holds for both.
    sent = _send({"messages": [HELLO], "reasoning_effort": "high", "max_tokens": 3000})
    assert sent["max_tokens"] == 3000
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 1500}
    roomy = _send({"messages": [HELLO], "reasoning_effort": "low", "max_tokens": 3000})
    assert (roomy["max_tokens"], roomy["thinking"]["budget_tokens"]) == (3000, 1024)


@pytest.mark.proves("reasoning", "anthropic")
def test_thinking_stays_within_the_edges_cap() -> None:
    # The edge wrote a cap of 16 into a request that named no bound: thinking cannot fit.
    body = {"model": "claude", "messages": [HELLO], "reasoning_effort": "xhigh"}
    with pytest.raises(errors.InvalidRequest, match=r"at most 16") as refused:
        request.build_request(Endpoint.CHAT_COMPLETIONS, body, RequestFacts(max_tokens=16), TARGET)
    assert refused.value.param == "reasoning_effort"


@pytest.mark.proves("reasoning", "anthropic")
def test_a_max_tokens_too_small_for_any_thinking_is_refused() -> None:
    with pytest.raises(errors.InvalidRequest, match="reasoning_effort 'none'"):
        _send({"messages": [HELLO], "reasoning_effort": "low", "max_tokens": 1000})


@pytest.mark.proves("reasoning", "anthropic")
def test_reasoning_effort_none_turns_thinking_off() -> None:
    assert "thinking" not in _send({"messages": [HELLO], "reasoning_effort": "none"})


@pytest.mark.proves("reasoning", "anthropic")
def test_unknown_reasoning_effort_is_refused() -> None:
    with pytest.raises(errors.InvalidRequest, match="reasoning_effort"):
        _send({"messages": [HELLO], "reasoning_effort": "extreme"})


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"tools": [WEATHER], "tool_choice": "required"}, "forced to call a tool"),
    ],
)
@pytest.mark.proves("reasoning", "anthropic")
def test_thinking_with_a_forced_tool_is_refused(extra: dict[str, Any], match: str) -> None:
    with pytest.raises(errors.InvalidRequest, match=match):
        _send({"messages": [HELLO], "reasoning_effort": "low", **extra})


@pytest.mark.proves("thinking_signature", "anthropic")
def test_signed_reasoning_goes_back_as_a_thinking_block() -> None:
    assistant = {
        "role": "assistant",
        "content": "Yes.",
        "reasoning_content": "Think.",
        "reasoning_signature": "sig-1",
        "reasoning_redacted": ["opaque"],
    }
    sent = _send({"messages": [HELLO, assistant]})
    assert sent["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "Think.", "signature": "sig-1"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": "Yes."},
    ]


@pytest.mark.proves("thinking_signature", "anthropic")
def test_unsigned_reasoning_is_not_sent_back() -> None:
    assistant = {"role": "assistant", "content": "Yes.", "reasoning_content": "Think."}
    sent = _send({"messages": [HELLO, assistant]})
    assert sent["messages"][1]["content"] == [{"type": "text", "text": "Yes."}]


@pytest.mark.proves("n_refused", "anthropic")
def test_n_above_one_is_refused_with_a_reason() -> None:
    with pytest.raises(errors.InvalidRequest, match="one choice") as caught:
        _send({"messages": [HELLO], "n": 2})
    assert caught.value.status == 400
    assert caught.value.param == "n"
    assert "n" not in _send({"messages": [HELLO], "n": 1})


def test_logprobs_are_refused() -> None:
    with pytest.raises(errors.InvalidRequest, match="log probabilities"):
        _send({"messages": [HELLO], "logprobs": True})


def test_unknown_roles_are_refused() -> None:
    with pytest.raises(errors.InvalidRequest, match="not supported") as caught:
        _send({"messages": [{"role": "function", "name": "f", "content": "x"}]})
    assert caught.value.param == "messages[0].role"


def test_stream_is_passed_on() -> None:
    call = _build({"messages": [HELLO], "stream": True})
    assert call.stream is True
    assert orjson.loads(call.body)["stream"] is True


@pytest.mark.proves("documents", "anthropic")
@pytest.mark.proves("cache_control", "anthropic")
def test_recorded_documents_and_cache_breakpoints_translate_to_the_recorded_body() -> None:
    body = fixtures.load_json("anthropic", "documents", "request.json")
    validate_openai_request(Endpoint.CHAT_COMPLETIONS, body)
    assert _send(body) == fixtures.load_json("anthropic", "documents", "upstream.json")


def _file(file_data: str, **extra: Any) -> dict[str, Any]:
    return {"type": "file", "file": {"file_data": file_data, **extra}}


@pytest.mark.proves("documents", "anthropic")
def test_a_pdf_file_part_becomes_a_base64_document_titled_by_its_filename() -> None:
    part = _file("data:application/pdf;base64,JVBERi0xLjQK", filename="a.pdf")
    sent = _send({"messages": [{"role": "user", "content": [part]}]})
    assert sent["messages"][0]["content"] == [
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQK"},
            "title": "a.pdf",
        }
    ]


@pytest.mark.proves("documents", "anthropic")
def test_bare_base64_file_data_is_read_as_a_pdf() -> None:
    sent = _send({"messages": [{"role": "user", "content": [_file("JVBERi0xLjQK")]}]})
    source = sent["messages"][0]["content"][0]["source"]
    assert source == {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQK"}


@pytest.mark.proves("documents", "anthropic")
def test_a_plain_text_file_becomes_a_text_document() -> None:
    part = _file("data:text/plain;base64,UmVmdW5kcyB3aXRoaW4gMzAgZGF5cy4=")
    sent = _send({"messages": [{"role": "user", "content": [part]}]})
    assert sent["messages"][0]["content"][0]["source"] == {
        "type": "text",
        "media_type": "text/plain",
        "data": "Refunds within 30 days.",
    }


@pytest.mark.proves("documents", "anthropic")
@pytest.mark.parametrize(
    ("file", "param", "match"),
    [
        ({"file_id": "file-abc123"}, "file.file_id", "uploaded to OpenAI"),
        ({"file_data": "data:image/tiff;base64,AAAA"}, "file.file_data", "not image/tiff"),
        ({"file_data": "data:text/plain;base64,//8="}, "file.file_data", "UTF-8"),
        ({"filename": "x.pdf"}, "file.file_data", "base64 data URL"),
    ],
)
def test_files_claude_cannot_read_are_refused(file: dict[str, Any], param: str, match: str) -> None:
    with pytest.raises(errors.InvalidRequest, match=match) as caught:
        _send({"messages": [{"role": "user", "content": [{"type": "file", "file": file}]}]})
    assert caught.value.param == f"messages[0].content[0].{param}"


@pytest.mark.proves("cache_control", "anthropic")
def test_cache_control_is_kept_on_images_and_on_a_tool_result() -> None:
    image = {
        "type": "image_url",
        "image_url": {"url": "https://example.com/a.png"},
        "cache_control": {"type": "ephemeral"},
    }
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    result = {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "done",
        "cache_control": {"type": "ephemeral", "ttl": "5m"},
    }
    sent = _send(
        {
            "messages": [
                {"role": "user", "content": [image]},
                {"role": "assistant", "tool_calls": [call]},
                result,
            ]
        }
    )
    assert sent["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}
    assert sent["messages"][2]["content"] == [
        {
            "type": "tool_result",
            "tool_use_id": "call_1",
            "content": "done",
            "cache_control": {"type": "ephemeral", "ttl": "5m"},
        }
    ]


@pytest.mark.proves("cache_control", "anthropic")
def test_a_message_level_cache_control_marks_the_messages_last_block() -> None:
    system = {
        "role": "system",
        "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
        "cache_control": {"type": "ephemeral"},
    }
    sent = _send({"messages": [system, HELLO]})
    assert sent["system"] == [
        {"type": "text", "text": "a"},
        {"type": "text", "text": "b", "cache_control": {"type": "ephemeral"}},
    ]


@pytest.mark.proves("cache_control", "anthropic")
@pytest.mark.parametrize(
    ("control", "where"),
    [
        ({"type": "persistent"}, "messages[0].content[0].cache_control"),
        ({"type": "ephemeral", "ttl": "1d"}, "messages[0].content[0].cache_control"),
        ("ephemeral", "messages[0].content[0].cache_control"),
    ],
)
def test_cache_control_claude_does_not_know_is_refused(control: Any, where: str) -> None:
    part = {"type": "text", "text": "x", "cache_control": control}
    with pytest.raises(errors.InvalidRequest, match="ephemeral") as caught:
        _send({"messages": [{"role": "user", "content": [part]}]})
    assert caught.value.param == where


@pytest.mark.proves("cache_control", "anthropic")
def test_cache_control_on_an_empty_part_is_refused_not_dropped() -> None:
    part = {"type": "text", "text": "", "cache_control": {"type": "ephemeral"}}
    with pytest.raises(errors.InvalidRequest, match="cannot cache"):
        _send({"messages": [{"role": "user", "content": [part, {"type": "text", "text": "x"}]}]})
