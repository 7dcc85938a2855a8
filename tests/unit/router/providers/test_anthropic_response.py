"""Anthropic `Message` replies -> OpenAI `chat.completion`, on recorded replies."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from tests.support import fixtures
from tests.support.anthropic_schema import RESPONSE_SCHEMA, validate_anthropic
from tests.support.openai_schema import validate_openai

from tollway_common import errors
from tollway_common.contract import Endpoint, RequestFacts, Usage
from tollway_common.control import Deployment
from tollway_router.providers.adapter import ParsedResponse
from tollway_router.providers.anthropic import request, response

TARGET = Deployment(name="claude", provider="anthropic", model="claude-sonnet-4-5-20250929")
CREATED = 1731000000


def _parse(raw: bytes) -> ParsedResponse:
    parsed = response.parse_response(Endpoint.CHAT_COMPLETIONS, raw, TARGET, clock=lambda: CREATED)
    validate_openai("CreateChatCompletionResponse", orjson.loads(parsed.body))
    return parsed


def _message(case: str) -> dict[str, Any]:
    recorded = fixtures.load_json("anthropic", case, "response.json")
    validate_anthropic(RESPONSE_SCHEMA, recorded)
    message: dict[str, Any] = orjson.loads(
        _parse(fixtures.load_bytes("anthropic", case, "response.json")).body
    )["choices"][0]["message"]
    return message


@pytest.mark.parametrize("case", ["chat", "thinking", "json_schema", "refusal"])
def test_recorded_replies_translate_to_the_expected_completions(case: str) -> None:
    raw = fixtures.load_bytes("anthropic", case, "response.json")
    validate_anthropic(RESPONSE_SCHEMA, orjson.loads(raw))
    assert orjson.loads(_parse(raw).body) == fixtures.load_json("anthropic", case, "expected.json")


@pytest.mark.proves("usage_cache", "anthropic")
def test_cached_tokens_are_counted_once_in_the_prompt() -> None:
    parsed = _parse(fixtures.load_bytes("anthropic", "chat", "response.json"))
    # input 14 + cache read 2048 + cache write 312
    assert parsed.usage == Usage(
        prompt_tokens=2374,
        completion_tokens=12,
        total_tokens=2386,
        cached_read_tokens=2048,
        cache_write_tokens=312,
    )
    body = orjson.loads(parsed.body)
    assert body["usage"]["prompt_tokens"] == 2374
    assert body["usage"]["prompt_tokens_details"] == {"cached_tokens": 2048}
    assert parsed.upstream_model == "claude-sonnet-4-5-20250929"


@pytest.mark.proves("usage_cache", "anthropic")
def test_thinking_tokens_are_reported_as_reasoning_tokens_when_given() -> None:
    usage = response.to_usage(
        {"input_tokens": 5, "output_tokens": 50, "output_tokens_details": {"thinking_tokens": 40}}
    )
    assert usage.reasoning_tokens == 40
    assert response.openai_usage(usage)["completion_tokens_details"] == {"reasoning_tokens": 40}


@pytest.mark.proves("text_parts", "anthropic")
@pytest.mark.proves("finish_reason", "anthropic")
def test_text_reply_has_content_and_stop() -> None:
    message = _message("chat")
    assert message == {
        "role": "assistant",
        "content": "Refunds are accepted within 30 days of purchase.",
        "refusal": None,
    }


@pytest.mark.proves("thinking_signature", "anthropic")
@pytest.mark.proves("tool_calls_round_trip", "anthropic")
def test_thinking_and_its_signature_are_kept_beside_the_tool_calls() -> None:
    message = _message("thinking")
    recorded = fixtures.load_json("anthropic", "thinking", "response.json")["content"]
    assert message["reasoning_content"] == recorded[0]["thinking"]
    assert message["reasoning_signature"] == recorded[0]["signature"]
    assert message["tool_calls"] == [
        {
            "id": "toolu_01A09q90qw90lq917835lq9",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
        }
    ]


@pytest.mark.proves("thinking_signature", "anthropic")
@pytest.mark.proves("tool_calls_round_trip", "anthropic")
def test_a_reply_can_be_sent_back_as_the_next_turn() -> None:
    message = _message("thinking")
    tool_result = {"role": "tool", "tool_call_id": message["tool_calls"][0]["id"], "content": "4°C"}
    body = {"messages": [{"role": "user", "content": "Weather in Oslo?"}, message, tool_result]}
    call = request.build_request(Endpoint.CHAT_COMPLETIONS, body, RequestFacts(), TARGET)
    sent = orjson.loads(call.body)
    original = fixtures.load_json("anthropic", "thinking", "response.json")["content"]
    assert sent["messages"][1] == {"role": "assistant", "content": original}


@pytest.mark.proves("thinking_signature", "anthropic")
def test_redacted_thinking_is_kept_for_the_next_turn() -> None:
    raw = _reply([{"type": "redacted_thinking", "data": "EmwKAhgB"}, _text("Done.")], "end_turn")
    message = orjson.loads(_parse(raw).body)["choices"][0]["message"]
    assert message["reasoning_redacted"] == ["EmwKAhgB"]


@pytest.mark.proves("response_format", "anthropic")
def test_json_tool_input_is_the_content() -> None:
    message = _message("json_schema")
    assert orjson.loads(message["content"]) == {"city": "Oslo", "population": 717710}
    assert "tool_calls" not in message


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _reply(content: list[dict[str, Any]], stop_reason: str) -> bytes:
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    validate_anthropic(RESPONSE_SCHEMA, message)
    return orjson.dumps(message)


TOOL_USE = {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}


@pytest.mark.parametrize(
    ("content", "stop_reason", "finish_reason"),
    [
        ([_text("a")], "end_turn", "stop"),
        ([_text("a")], "stop_sequence", "stop"),
        ([_text("a")], "max_tokens", "length"),
        ([TOOL_USE], "tool_use", "tool_calls"),
        ([_text("a")], "refusal", "content_filter"),
        ([_text("a")], "pause_turn", "stop"),
    ],
)
@pytest.mark.proves("finish_reason", "anthropic")
def test_stop_reason_becomes_finish_reason(
    content: list[dict[str, Any]], stop_reason: str, finish_reason: str
) -> None:
    body = orjson.loads(_parse(_reply(content, stop_reason)).body)
    assert body["choices"][0]["finish_reason"] == finish_reason


@pytest.mark.proves("tool_calls_round_trip", "anthropic")
def test_tool_only_reply_has_null_content() -> None:
    message = orjson.loads(_parse(_reply([TOOL_USE], "tool_use")).body)["choices"][0]["message"]
    assert message["content"] is None


def test_non_json_reply_is_an_upstream_error() -> None:
    with pytest.raises(errors.UpstreamUnavailable, match="not JSON"):
        response.parse_response(Endpoint.CHAT_COMPLETIONS, b"<html>502</html>", TARGET)


@pytest.mark.proves("overloaded", "anthropic")
def test_error_typed_reply_raises_its_error() -> None:
    raw = fixtures.load_bytes("anthropic", "error_529", "response.json")
    with pytest.raises(errors.UpstreamUnavailable, match="overloaded"):
        response.parse_response(Endpoint.CHAT_COMPLETIONS, raw, TARGET)
