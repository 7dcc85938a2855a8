"""The OpenAI adapter on recorded OpenAI traffic."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from tests.support import fixtures
from tests.support.openai_schema import validate_openai, validate_openai_request

from tollway_common import errors
from tollway_common.contract import Endpoint, RequestFacts, Usage
from tollway_common.control import Deployment
from tollway_router.providers import openai
from tollway_router.providers.adapter import ChunkOut, SseEvent
from tollway_router.providers.openai import StreamState
from tollway_router.upstream.sse_decoder import SseDecoder

TARGET = Deployment(name="oai", provider="openai", model="gpt-4o-mini-2024-07-18")
# The OpenAI wire forwards the body as sent: no fact changes what goes upstream.
FACTS = RequestFacts()
CHUNK_BASE = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}


def _events(case: str) -> list[SseEvent]:
    decoder = SseDecoder()
    events = decoder.feed(fixtures.load_bytes("openai", case, "stream.sse"))
    assert decoder.feed(b"\n\n") == [], "the fixture ends with a complete event"
    return events


def _replay(case: str) -> list[ChunkOut]:
    state = openai.new_stream_state()
    out: list[ChunkOut] = []
    for event in _events(case):
        assert not state.done, "an event came after [DONE]"
        out.extend(openai.parse_stream_event(event, state))
    assert state.done, "the stream's [DONE] was consumed"
    return out


def _as_record(chunk: ChunkOut) -> dict[str, Any]:
    return {
        "data": orjson.loads(chunk.data),
        "usage": chunk.usage.model_dump() if chunk.usage else None,
        "usage_only": chunk.usage_only,
        "output_chars": chunk.output_chars,
    }


@pytest.mark.proves("passthrough", "openai")
@pytest.mark.proves("stream_usage", "openai")
def test_request_uses_the_deployment_model_and_asks_for_stream_usage() -> None:
    body = fixtures.load_json("openai", "text_stream", "request.json")
    call = openai.build_request(Endpoint.CHAT_COMPLETIONS, body, FACTS, TARGET)
    sent = orjson.loads(call.body)
    validate_openai_request(Endpoint.CHAT_COMPLETIONS, sent)
    assert (call.method, call.path, call.stream) == ("POST", "/chat/completions", True)
    assert sent == {**body, "model": TARGET.model, "stream_options": {"include_usage": True}}


def test_stream_options_the_client_set_are_kept() -> None:
    body = fixtures.load_json("openai", "tool_calls_stream", "request.json")
    sent = orjson.loads(openai.build_request(Endpoint.CHAT_COMPLETIONS, body, FACTS, TARGET).body)
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["tools"] == body["tools"]
    assert sent["parallel_tool_calls"] is True


@pytest.mark.proves("passthrough", "openai")
def test_non_streaming_request_is_not_touched_beyond_the_model() -> None:
    body = fixtures.load_json("openai", "chat", "request.json")
    call = openai.build_request(Endpoint.CHAT_COMPLETIONS, body, FACTS, TARGET)
    assert call.stream is False
    assert orjson.loads(call.body) == {**body, "model": TARGET.model}


@pytest.mark.parametrize(
    ("endpoint", "path"),
    [(Endpoint.COMPLETIONS, "/completions"), (Endpoint.EMBEDDINGS, "/embeddings")],
)
@pytest.mark.proves("legacy_endpoints", "openai")
def test_other_endpoints_have_their_paths(endpoint: Endpoint, path: str) -> None:
    body = {"model": "x", "input": "a", "stream": True}
    call = openai.build_request(endpoint, body, FACTS, TARGET)
    assert call.path == path
    assert call.stream is (endpoint is Endpoint.COMPLETIONS)


@pytest.mark.proves("passthrough", "openai")
def test_response_is_forwarded_byte_for_byte_with_its_usage() -> None:
    raw = fixtures.load_bytes("openai", "chat", "response.json")
    parsed = openai.parse_response(Endpoint.CHAT_COMPLETIONS, raw, TARGET)
    validate_openai("CreateChatCompletionResponse", orjson.loads(parsed.body))
    assert parsed.body == raw
    assert parsed.usage == Usage(prompt_tokens=9, completion_tokens=3, total_tokens=12)
    assert parsed.upstream_model == "gpt-4o-mini-2024-07-18"


@pytest.mark.proves("usage_cache", "openai")
def test_cached_and_reasoning_tokens_are_read_from_usage_details() -> None:
    raw = fixtures.load_bytes("openai", "reasoning", "response.json")
    parsed = openai.parse_response(Endpoint.CHAT_COMPLETIONS, raw, TARGET)
    validate_openai("CreateChatCompletionResponse", orjson.loads(parsed.body))
    assert parsed.usage == Usage(
        prompt_tokens=1310,
        completion_tokens=214,
        total_tokens=1524,
        cached_read_tokens=1152,
        reasoning_tokens=192,
    )


def test_an_error_body_with_status_200_raises_the_mapped_error() -> None:
    body = fixtures.load_bytes("openai", "error_429", "response.json")
    with pytest.raises(errors.UpstreamRateLimited, match="in a 200 response"):
        openai.parse_response(Endpoint.CHAT_COMPLETIONS, body, TARGET)


def test_non_json_response_is_an_upstream_error() -> None:
    with pytest.raises(errors.UpstreamUnavailable, match="not JSON"):
        openai.parse_response(Endpoint.CHAT_COMPLETIONS, b"<html>502</html>", TARGET)


@pytest.mark.parametrize("case", ["text_stream", "tool_calls_stream"])
def test_stream_replays_to_the_expected_chunks(case: str) -> None:
    out = _replay(case)
    assert [_as_record(chunk) for chunk in out] == fixtures.load_jsonl("openai", case)
    for chunk in out:
        validate_openai("CreateChatCompletionStreamResponse", orjson.loads(chunk.data))


def test_legacy_completions_stream_counts_text_and_ends_with_usage() -> None:
    # Not schema-checked: OpenAI streams `finish_reason: null`, which its own
    # CreateCompletionResponse schema (shared by both shapes) does not allow.
    out = _replay("completions_stream")
    assert [_as_record(chunk) for chunk in out] == fixtures.load_jsonl(
        "openai", "completions_stream"
    )


def test_legacy_completions_stream_asks_for_usage_over_the_clients_choice() -> None:
    body = fixtures.load_json("openai", "completions_stream", "request.json")
    sent = orjson.loads(openai.build_request(Endpoint.COMPLETIONS, body, FACTS, TARGET).body)
    validate_openai_request(Endpoint.COMPLETIONS, sent)
    assert sent["stream_options"] == {"include_usage": True}


def test_recorded_error_event_mid_stream_raises_after_the_chunks_before_it() -> None:
    state = openai.new_stream_state()
    *chunks, error_event = _events("stream_error")
    out = [chunk for event in chunks for chunk in openai.parse_stream_event(event, state)]
    assert [orjson.loads(chunk.data)["choices"][0]["delta"].get("content") for chunk in out] == [
        "",
        "Once",
    ]
    with pytest.raises(errors.UpstreamUnavailable) as caught:
        openai.parse_stream_event(error_event, state)
    assert caught.value.message == (
        "upstream deployment sent an error mid-stream: "
        "The server had an error while processing your request. Sorry about that!"
    )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ({"message": "slow down", "type": "rate_limit_error"}, errors.UpstreamRateLimited),
        ({"message": "too long", "code": "context_length_exceeded"}, errors.ContextLengthExceeded),
        ({"object": "error", "message": "bad", "code": 400}, errors.UpstreamBadRequest),
        ({"message": "gone", "type": "server_error", "code": 503}, errors.UpstreamUnavailable),
        ("model crashed", errors.UpstreamUnavailable),
    ],
)
def test_error_events_map_by_type_or_code(
    error: object, expected: type[errors.TollwayError]
) -> None:
    event = SseEvent(orjson.dumps({"error": error}).decode())
    with pytest.raises(expected):
        openai.parse_stream_event(event, openai.new_stream_state())


def test_a_stream_event_that_is_not_json_is_an_upstream_error() -> None:
    with pytest.raises(errors.UpstreamUnavailable, match="not JSON"):
        openai.parse_stream_event(SseEvent("<html>"), openai.new_stream_state())


def test_an_empty_keep_alive_event_gives_no_chunk() -> None:
    assert openai.parse_stream_event(SseEvent(""), openai.new_stream_state()) == []


def test_a_chunk_with_choices_and_usage_keeps_both() -> None:
    chunk = {
        **orjson.loads(_events("text_stream")[1].data),
        "usage": {"prompt_tokens": 19, "completion_tokens": 1, "total_tokens": 20},
    }
    [out] = openai.parse_stream_event(SseEvent(orjson.dumps(chunk).decode()), StreamState())
    assert (out.usage_only, out.output_chars) == (False, 2)
    assert out.usage == Usage(prompt_tokens=19, completion_tokens=1, total_tokens=20)


def test_reasoning_deltas_count_as_output() -> None:
    chunk = {**CHUNK_BASE, "choices": [{"index": 0, "delta": {"reasoning_content": "Hmm."}}]}
    [out] = openai.parse_stream_event(SseEvent(orjson.dumps(chunk).decode()), StreamState())
    assert out.output_chars == 4


def test_stream_chunks_are_forwarded_unchanged() -> None:
    raw_events = SseDecoder().feed(fixtures.load_bytes("openai", "text_stream", "stream.sse"))
    forwarded = [chunk.data.decode() for chunk in _replay("text_stream")]
    assert forwarded == [event.data for event in raw_events if event.data != "[DONE]"]


@pytest.mark.proves("tool_call_stream", "openai")
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
        (403, "error_401", {}, errors.UpstreamAuthFailed, "upstream_auth_failed"),
        (404, "error_404", {}, errors.UpstreamBadRequest, "model_not_found"),
        (408, "error_500", {}, errors.UpstreamTimeout, "upstream_timeout"),
        (413, "error_400", {}, errors.PayloadTooLarge, "payload_too_large"),
        (409, "error_500", {}, errors.UpstreamUnavailable, "upstream_error"),
        (500, "error_500", {}, errors.UpstreamUnavailable, "upstream_error"),
        (503, "error_500", {}, errors.UpstreamUnavailable, "upstream_error"),
        (504, "error_500", {}, errors.UpstreamTimeout, "upstream_timeout"),
    ],
)
@pytest.mark.proves("errors", "openai")
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


def test_error_messages_say_what_failed() -> None:
    body = fixtures.load_bytes("openai", "error_500", "response.json")
    assert openai.parse_error(500, {}, body).message == (
        "upstream deployment returned 500: "
        "The server had an error while processing your request. Sorry about that!"
    )


def test_bad_request_carries_the_providers_param_and_code() -> None:
    error = openai.parse_error(400, {}, fixtures.load_bytes("openai", "error_400", "response.json"))
    assert error.body().model_dump() == {
        "message": "upstream deployment returned 400: "
        "Invalid value for 'temperature': must be between 0 and 2.",
        "type": "invalid_request_error",
        "param": "temperature",
        "code": "invalid_value",
    }


def test_context_length_keeps_the_providers_advice() -> None:
    body = fixtures.load_bytes("openai", "error_400_context", "response.json")
    error = openai.parse_error(400, {}, body)
    assert error.param == "messages"
    assert error.message.startswith("This model's maximum context length is 128000 tokens.")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"error": "model \'llama9\' not found"}', "model 'llama9' not found"),  # Ollama
        (b'{"detail": "Not Found"}', "Not Found"),  # FastAPI
        (b"<html>Bad Gateway</html>", "<html>Bad Gateway</html>"),
        (b"", "empty body"),
    ],
)
def test_non_openai_error_bodies_still_give_a_message(body: bytes, message: str) -> None:
    assert (
        openai.parse_error(502, {}, body).message == f"upstream deployment returned 502: {message}"
    )


def test_upstream_key_never_reaches_the_client() -> None:
    error = openai.parse_error(401, {}, fixtures.load_bytes("openai", "error_401", "response.json"))
    assert "sk-proj" not in error.message
    assert error.status == 502


def test_rate_limit_passes_retry_after_on() -> None:
    body = fixtures.load_bytes("openai", "error_429", "response.json")
    assert openai.parse_error(429, {"retry-after-ms": "450"}, body).retry_after == 0.45
    assert openai.parse_error(429, {"retry-after": "7"}, body).retry_after == 7
    assert openai.parse_error(429, {}, body).retry_after is None


@pytest.mark.parametrize("value", ["soon", "-3", "nan", "inf"])
def test_unusable_retry_after_is_dropped(value: str) -> None:
    body = fixtures.load_bytes("openai", "error_429", "response.json")
    assert openai.parse_error(429, {"retry-after": value}, body).retry_after is None
