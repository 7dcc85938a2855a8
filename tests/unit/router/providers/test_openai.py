"""The OpenAI adapter on recorded OpenAI traffic."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from tests.support import fixtures
from tests.support.openai_schema import validate_openai, validate_openai_request

from tollway_common import errors
from tollway_common.contract import Endpoint, Usage
from tollway_common.control import Deployment
from tollway_router.adapter import ChunkOut
from tollway_router.providers import openai
from tollway_router.sse_decoder import SseDecoder

TARGET = Deployment(name="oai", provider="openai", model="gpt-4o-mini-2024-07-18")


def _replay(case: str) -> list[ChunkOut]:
    decoder = SseDecoder()
    events = decoder.feed(fixtures.load_bytes("openai", case, "stream.sse"))
    state = openai.new_stream_state()
    out = [chunk for event in events for chunk in openai.parse_stream_event(event, state)]
    assert state.done, "the stream's [DONE] was consumed"
    return out


def _as_record(chunk: ChunkOut) -> dict[str, Any]:
    return {
        "data": orjson.loads(chunk.data),
        "usage": chunk.usage.model_dump() if chunk.usage else None,
        "usage_only": chunk.usage_only,
        "output_chars": chunk.output_chars,
    }


def test_request_uses_the_deployment_model_and_asks_for_stream_usage() -> None:
    body = fixtures.load_json("openai", "text_stream", "request.json")
    call = openai.build_request(Endpoint.CHAT_COMPLETIONS, body, TARGET)
    sent = orjson.loads(call.body)
    validate_openai_request(Endpoint.CHAT_COMPLETIONS, sent)
    assert (call.method, call.path, call.stream) == ("POST", "/chat/completions", True)
    assert sent == {**body, "model": TARGET.model, "stream_options": {"include_usage": True}}


def test_stream_options_the_client_set_are_kept() -> None:
    body = fixtures.load_json("openai", "tool_calls_stream", "request.json")
    sent = orjson.loads(openai.build_request(Endpoint.CHAT_COMPLETIONS, body, TARGET).body)
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["tools"] == body["tools"]
    assert sent["parallel_tool_calls"] is True


def test_non_streaming_request_is_not_touched_beyond_the_model() -> None:
    body = fixtures.load_json("openai", "chat", "request.json")
    call = openai.build_request(Endpoint.CHAT_COMPLETIONS, body, TARGET)
    assert call.stream is False
    assert orjson.loads(call.body) == {**body, "model": TARGET.model}


@pytest.mark.parametrize(
    ("endpoint", "path"),
    [(Endpoint.COMPLETIONS, "/completions"), (Endpoint.EMBEDDINGS, "/embeddings")],
)
def test_other_endpoints_have_their_paths(endpoint: Endpoint, path: str) -> None:
    call = openai.build_request(endpoint, {"model": "x", "input": "a", "stream": True}, TARGET)
    assert call.path == path
    assert call.stream is (endpoint is Endpoint.COMPLETIONS)


def test_response_is_forwarded_byte_for_byte_with_its_usage() -> None:
    raw = fixtures.load_bytes("openai", "chat", "response.json")
    parsed = openai.parse_response(Endpoint.CHAT_COMPLETIONS, raw, TARGET)
    validate_openai("CreateChatCompletionResponse", orjson.loads(parsed.body))
    assert parsed.body == raw
    assert parsed.usage == Usage(prompt_tokens=9, completion_tokens=3, total_tokens=12)
    assert parsed.upstream_model == "gpt-4o-mini-2024-07-18"


def test_non_json_response_is_an_upstream_error() -> None:
    with pytest.raises(errors.UpstreamUnavailable, match="not JSON"):
        openai.parse_response(Endpoint.CHAT_COMPLETIONS, b"<html>502</html>", TARGET)


@pytest.mark.parametrize("case", ["text_stream", "tool_calls_stream"])
def test_stream_replays_to_the_expected_chunks(case: str) -> None:
    out = _replay(case)
    assert [_as_record(chunk) for chunk in out] == fixtures.load_jsonl("openai", case)
    for chunk in out:
        validate_openai("CreateChatCompletionStreamResponse", orjson.loads(chunk.data))


def test_stream_chunks_are_forwarded_unchanged() -> None:
    raw_events = SseDecoder().feed(fixtures.load_bytes("openai", "text_stream", "stream.sse"))
    forwarded = [chunk.data.decode() for chunk in _replay("text_stream")]
    assert forwarded == [event.data for event in raw_events if event.data != "[DONE]"]


def test_parallel_tool_calls_keep_their_indexes_and_ids() -> None:
    calls = [
        call
        for chunk in _replay("tool_calls_stream")
        for choice in orjson.loads(chunk.data)["choices"]
        for call in choice["delta"].get("tool_calls", [])
    ]
    assert [(c["index"], c.get("id")) for c in calls] == [
        (0, "call_oslo"),
        (0, None),
        (1, "call_paris"),
        (1, None),
    ]


def test_error_event_mid_stream_raises() -> None:
    state = openai.new_stream_state()
    event = SseDecoder().feed(b'data: {"error": {"message": "overloaded"}}\n\n')[0]
    with pytest.raises(errors.UpstreamUnavailable, match="overloaded"):
        openai.parse_stream_event(event, state)


@pytest.mark.parametrize(
    ("status", "case", "headers", "expected", "code"),
    [
        (400, "error_400", {}, errors.UpstreamBadRequest, "invalid_value"),
        (400, "error_400_context", {}, errors.ContextLengthExceeded, "context_length_exceeded"),
        (401, "error_401", {}, errors.UpstreamAuthFailed, "upstream_auth_failed"),
        (429, "error_429", {"retry-after-ms": "450"}, errors.UpstreamRateLimited, None),
        (500, "error_500", {}, errors.UpstreamUnavailable, "upstream_error"),
        (504, "error_500", {}, errors.UpstreamTimeout, "upstream_timeout"),
    ],
)
def test_errors_map_to_the_taxonomy(
    status: int,
    case: str,
    headers: dict[str, str],
    expected: type[errors.TollwayError],
    code: str | None,
) -> None:
    error = openai.parse_error(
        status, headers, fixtures.load_bytes("openai", case, "response.json")
    )
    assert type(error) is expected
    if code is not None:
        assert error.body().code == code
    validate_openai("ErrorResponse", {"error": error.body().model_dump()})


def test_upstream_key_never_reaches_the_client() -> None:
    error = openai.parse_error(401, {}, fixtures.load_bytes("openai", "error_401", "response.json"))
    assert "sk-proj" not in error.message


def test_rate_limit_passes_retry_after_on() -> None:
    body = fixtures.load_bytes("openai", "error_429", "response.json")
    assert openai.parse_error(429, {"retry-after-ms": "450"}, body).retry_after == 0.45
    assert openai.parse_error(429, {"retry-after": "7"}, body).retry_after == 7
    assert openai.parse_error(429, {}, body).retry_after is None
