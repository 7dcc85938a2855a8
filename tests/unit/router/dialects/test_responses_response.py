"""Chat completion -> OpenAI `Response`, through each chat adapter wrapped as the router wraps
it (the OpenAI-wire ones fed OpenAI completions, the Claude one fed Claude's own answers);
every Response is checked against OpenAI's spec and the openai SDK's own `Response` type."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pydantic
import pytest
from openai.types.responses import Response
from tests.support import fixtures
from tests.support.responses_over_chat import (
    ADAPTER_IDS,
    ANTHROPIC,
    CHAT_ADAPTERS,
    check_response,
    response_for,
    sdk_response,
)

from tollway_common.contract import Usage
from tollway_common.errors import UpstreamUnavailable
from tollway_router.dialects.responses_response import Asked, to_response
from tollway_router.providers.adapter import Adapter

ASKED: dict[str, Any] = {"model": "claude-sonnet-4-5", "input": "Hi", "max_output_tokens": 256}
WEATHER = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}

adapters = pytest.mark.parametrize("adapter", CHAT_ADAPTERS, ids=ADAPTER_IDS)


def _completion(message: dict[str, Any], finish: str | None = "stop", **usage: Any) -> bytes:
    return orjson.dumps(
        {
            "id": "chatcmpl-abc123",
            "object": "chat.completion",
            "created": 1731000000,
            "model": "gpt-4o-mini",
            "choices": [
                {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15, **usage},
        }
    )


def _without_ids(output: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{name: value for name, value in item.items() if name != "id"} for item in output]


@adapters
def test_a_recorded_completion_becomes_a_completed_response_echoing_the_request(
    adapter: Adapter[Any],
) -> None:
    recorded = fixtures.load_bytes("openai", "chat", "response.json")
    response, usage = response_for(adapter, ASKED, recorded)
    assert re.fullmatch(r"resp_[0-9a-f]{32}", response["id"])
    assert re.fullmatch(r"msg_[0-9a-f]{32}", response["output"][0]["id"])
    assert _without_ids(response.pop("output")) == [
        {
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [
                {"type": "output_text", "text": "Hi there!", "annotations": [], "logprobs": []}
            ],
        }
    ]
    assert response.pop("created_at") == response.pop("completed_at")
    del response["id"]
    assert response == {
        "object": "response",
        "status": "completed",
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": 256,
        # The model the client asked for, not the deployment's.
        "model": "claude-sonnet-4-5",
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": True,
        "temperature": None,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": None,
        "truncation": "disabled",
        "usage": {
            "input_tokens": 9,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": 3,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 12,
        },
        "metadata": {},
    }
    assert usage == Usage(prompt_tokens=9, completion_tokens=3, total_tokens=12)


@adapters
def test_the_sdk_reads_the_text_and_calls_of_a_translated_response(adapter: Adapter[Any]) -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
    }
    completion = _completion({"content": "Checking.", "tool_calls": [call]}, "tool_calls")
    response, _ = response_for(adapter, {**ASKED, "tools": [WEATHER]}, completion)
    read = sdk_response(response)
    assert read.output_text == "Checking."
    [function_call] = [item for item in read.output if item.type == "function_call"]
    assert (function_call.call_id, function_call.arguments) == ("call_1", '{"city":"Oslo"}')
    assert read.usage is not None
    assert read.usage.total_tokens == 15


@adapters
def test_the_request_fields_are_echoed_as_the_client_sent_them(adapter: Adapter[Any]) -> None:
    asked = {
        **ASKED,
        "instructions": "Be brief.",
        "tools": [WEATHER],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "parallel_tool_calls": False,
        "temperature": 1,
        "top_p": 0.5,
        "previous_response_id": "resp_0",
        "store": False,
        "metadata": {"team": "a"},
        "text": {"format": {"type": "json_schema", "schema": {"type": "object"}}},
        "reasoning": {"effort": "low"},
        "user": "u1",
        "safety_identifier": "s1",
    }
    response, _ = response_for(adapter, asked, _completion({"content": "{}"}))
    echoed = {name: value for name, value in asked.items() if name != "input"}
    assert {name: response[name] for name in echoed} == {
        **echoed,
        "tools": [{**WEATHER, "description": None, "strict": None}],
        "temperature": 1.0,
        "text": {
            "format": {"type": "json_schema", "schema": {"type": "object"}, "name": "response"}
        },
        "reasoning": {"effort": "low", "summary": None},
    }
    sdk = check_response(response)
    assert sdk.output_text == "{}"


@adapters
def test_tool_calls_become_function_call_items_keeping_their_call_ids(
    adapter: Adapter[Any],
) -> None:
    calls = [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
        },
        {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": ""}},
    ]
    completion = _completion({"content": "Checking.", "tool_calls": calls}, "tool_calls")
    response, _ = response_for(adapter, {**ASKED, "tools": [WEATHER]}, completion)
    message, first, second = response["output"]
    assert message["content"][0]["text"] == "Checking."
    assert re.fullmatch(r"fc_[0-9a-f]{32}", first["id"])
    assert _without_ids([first, second]) == [
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": '{"city":"Oslo"}',
            "status": "completed",
        },
        {
            "type": "function_call",
            "call_id": "call_2",
            "name": "get_time",
            "arguments": "{}",
            "status": "completed",
        },
    ]
    assert response["status"] == "completed"


@pytest.mark.parametrize(
    ("finish", "reason"), [("length", "max_output_tokens"), ("content_filter", "content_filter")]
)
@adapters
def test_a_cut_short_answer_is_an_incomplete_response_and_its_last_item_says_so(
    adapter: Adapter[Any], finish: str, reason: str
) -> None:
    response, _ = response_for(adapter, ASKED, _completion({"content": "Once upon"}, finish))
    assert response["status"] == "incomplete"
    assert response["incomplete_details"] == {"reason": reason}
    assert response["output"][-1]["status"] == "incomplete"
    assert "completed_at" not in response or response["completed_at"] is None


@adapters
def test_reasoning_text_becomes_a_reasoning_item_before_the_message(adapter: Adapter[Any]) -> None:
    completion = _completion(
        {"content": "17 is prime.", "reasoning_content": "Check divisors up to 4."},
        completion_tokens_details={"reasoning_tokens": 7},
        prompt_tokens_details={"cached_tokens": 4},
    )
    response, _ = response_for(adapter, ASKED, completion)
    reasoning, message = response["output"]
    assert re.fullmatch(r"rs_[0-9a-f]{32}", reasoning["id"])
    assert _without_ids([reasoning]) == [
        {
            "type": "reasoning",
            "summary": [],
            "content": [{"type": "reasoning_text", "text": "Check divisors up to 4."}],
            "encrypted_content": None,
            "status": "completed",
        }
    ]
    assert message["content"][0]["text"] == "17 is prime."
    assert response["usage"]["output_tokens_details"] == {"reasoning_tokens": 7}
    assert response["usage"]["input_tokens_details"]["cached_tokens"] == 4


@adapters
def test_a_refusal_is_a_refusal_part(adapter: Adapter[Any]) -> None:
    response, _ = response_for(adapter, ASKED, _completion({"content": None, "refusal": "No."}))
    assert response["output"][0]["content"] == [{"type": "refusal", "refusal": "No."}]
    assert check_response(response).output_text == ""


@adapters
def test_a_tool_call_without_a_name_is_an_upstream_failure(adapter: Adapter[Any]) -> None:
    call = {"id": "call_1", "type": "function", "function": {"arguments": "{}"}}
    with pytest.raises(UpstreamUnavailable):
        response_for(adapter, ASKED, _completion({"tool_calls": [call]}, "tool_calls"))


def test_claudes_thinking_keeps_its_signature_as_encrypted_content() -> None:
    """Claude's answer through the Claude chat adapter: thinking, text and a tool call."""
    recorded = fixtures.load_bytes("anthropic", "thinking", "response.json")
    response, usage = response_for(ANTHROPIC, {**ASKED, "tools": [WEATHER]}, recorded)
    assert [item["type"] for item in response["output"]] == [
        "reasoning",
        "message",
        "function_call",
    ]
    reasoning, _message, call = response["output"]
    assert reasoning["content"][0]["text"].startswith("The user wants Oslo's weather")
    assert reasoning["encrypted_content"].startswith("EqQBCgIYAhIM")
    assert (call["call_id"], call["name"], orjson.loads(call["arguments"])) == (
        "toolu_01A09q90qw90lq917835lq9",
        "get_weather",
        {"city": "Oslo"},
    )
    assert response["usage"]["output_tokens"] == 120
    assert usage is not None
    assert usage.completion_tokens == 120


def test_claudes_refusal_is_an_incomplete_response_for_its_content_filter() -> None:
    recorded = fixtures.load_bytes("anthropic", "refusal", "response.json")
    response, _ = response_for(ANTHROPIC, ASKED, recorded)
    assert response["status"] == "incomplete"
    assert response["incomplete_details"] == {"reason": "content_filter"}


def test_the_sdk_type_is_strict_enough_to_catch_a_missing_field() -> None:
    """The check the tests lean on fails when a required field is missing."""
    completion = orjson.loads(fixtures.load_bytes("openai", "chat", "response.json"))
    response = to_response(completion, None, Asked.of(ASKED), "d1")
    Response.model_validate(response)
    for required in ("output", "tools", "parallel_tool_calls", "tool_choice", "model"):
        with pytest.raises(pydantic.ValidationError):
            Response.model_validate({k: v for k, v in response.items() if k != required})


def test_asked_reads_any_body_without_failing() -> None:
    """A body `to_chat` will refuse is still read (the adapter reads it before translating)."""
    garbage: dict[str, Any] = {
        "model": 5,
        "tools": "x",
        "tool_choice": 3,
        "temperature": "hot",
        "metadata": [],
        "text": "x",
        "reasoning": 1,
        "max_output_tokens": True,
    }
    asked = Asked.of(garbage)
    assert (asked.model, asked.tools, asked.tool_choice, asked.temperature) == (
        "5",
        [],
        "auto",
        None,
    )
    assert asked.max_output_tokens is None
