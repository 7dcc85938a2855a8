"""OpenAI chat completion -> Anthropic `Message`, through each OpenAI-wire provider's adapter
wrapped as the router wraps it; every Message is checked against Anthropic's spec and the
anthropic SDK's own `Message` type."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from tests.support import fixtures
from tests.support.messages_over_chat import (
    ADAPTER_IDS,
    CHAT_ADAPTERS,
    deployment_for,
    infer_for,
    message_for,
)

from tollway_common.contract import Endpoint, Usage
from tollway_common.errors import UpstreamUnavailable
from tollway_router.dialects.messages_adapter import messages_over_chat
from tollway_router.providers.adapter import Adapter

ASKED: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 256,
    "messages": [{"role": "user", "content": "Hi"}],
}
THINKING = {**ASKED, "thinking": {"type": "enabled", "budget_tokens": 1024}}

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


@pytest.mark.proves("messages_response")
@adapters
def test_a_recorded_completion_becomes_a_message(adapter: Adapter[Any]) -> None:
    recorded = fixtures.load_bytes("openai", "chat", "response.json")
    assert message_for(adapter, ASKED, recorded) == {
        "id": "msg_BxT3",
        "type": "message",
        "role": "assistant",
        "model": "gpt-4o-mini-2024-07-18",
        "content": [{"type": "text", "text": "Hi there!"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 9,
            "output_tokens": 3,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


@pytest.mark.proves("messages_response")
@adapters
def test_cached_prompt_tokens_are_counted_apart_from_input_tokens(adapter: Adapter[Any]) -> None:
    recorded = fixtures.load_bytes("openai", "reasoning", "response.json")
    usage = message_for(adapter, ASKED, recorded)["usage"]
    assert (usage["input_tokens"], usage["cache_read_input_tokens"]) == (1310 - 1152, 1152)
    assert usage["output_tokens"] == 214


@pytest.mark.proves("messages_response")
@adapters
def test_tool_calls_become_tool_use_blocks_with_parsed_input(adapter: Adapter[Any]) -> None:
    calls = [
        {
            "id": "call_oslo",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
        },
        {"id": "call.odd id", "type": "function", "function": {"name": "now", "arguments": ""}},
    ]
    completion = _completion({"content": "Checking.", "tool_calls": calls}, "tool_calls")
    message = message_for(adapter, ASKED, completion)
    assert message["content"] == [
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "call_oslo", "name": "get_weather", "input": {"city": "Oslo"}},
        {"type": "tool_use", "id": "call_odd_id", "name": "now", "input": {}},
    ]
    assert message["stop_reason"] == "tool_use"


@pytest.mark.proves("messages_response")
@adapters
@pytest.mark.parametrize(
    ("finish", "stop"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("content_filter", "refusal"),
        (None, "end_turn"),
    ],
)
def test_finish_reason_becomes_stop_reason(
    adapter: Adapter[Any], finish: str | None, stop: str
) -> None:
    message = message_for(adapter, ASKED, _completion({"content": "x"}, finish))
    assert message["stop_reason"] == stop


@pytest.mark.proves("messages_response")
@adapters
def test_a_refusal_is_text_with_stop_reason_refusal(adapter: Adapter[Any]) -> None:
    completion = _completion({"content": None, "refusal": "I can't help with that."})
    message = message_for(adapter, ASKED, completion)
    assert message["content"] == [{"type": "text", "text": "I can't help with that."}]
    assert message["stop_reason"] == "refusal"


@pytest.mark.proves("messages_reasoning")
@adapters
def test_reasoning_becomes_a_thinking_block_only_when_the_client_asked_for_thinking(
    adapter: Adapter[Any],
) -> None:
    completion = _completion({"content": "17 is prime.", "reasoning_content": "Check 2..4."})
    thought = {"type": "thinking", "thinking": "Check 2..4.", "signature": ""}
    text = {"type": "text", "text": "17 is prime."}
    assert message_for(adapter, THINKING, completion)["content"] == [thought, text]
    assert message_for(adapter, ASKED, completion)["content"] == [text]


@pytest.mark.proves("messages_response")
@adapters
def test_tool_arguments_that_are_not_an_object_are_an_upstream_failure(
    adapter: Adapter[Any],
) -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "[1, 2"}}
    with pytest.raises(UpstreamUnavailable, match="not a JSON object"):
        message_for(adapter, ASKED, _completion({"content": None, "tool_calls": [call]}))


@adapters
def test_the_usage_metered_is_the_chat_usage_unchanged(adapter: Adapter[Any]) -> None:
    wrapped = messages_over_chat(adapter, infer_for(ASKED), deployment_for(adapter.type))
    recorded = fixtures.load_bytes("openai", "reasoning", "response.json")
    parsed = wrapped.parse_response(Endpoint.MESSAGES, recorded, deployment_for(adapter.type))
    assert parsed.usage == Usage(
        prompt_tokens=1310,
        completion_tokens=214,
        total_tokens=1524,
        cached_read_tokens=1152,
        reasoning_tokens=192,
    )
    assert parsed.upstream_model == "o4-mini-2025-04-16"
