"""Anthropic stream events -> OpenAI chunks, on recorded streams."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from tests.support import fixtures
from tests.support.anthropic_schema import validate_anthropic_event
from tests.support.openai_schema import validate_openai

from tollway_common import errors
from tollway_common.contract import Usage
from tollway_router.providers.adapter import ChunkOut, SseEvent
from tollway_router.providers.anthropic import stream
from tollway_router.upstream.sse_decoder import SseDecoder

CREATED = 1731000000
STREAMS = ["text_stream", "thinking_stream", "tool_calls_stream", "json_schema_stream"]


def _events(case: str) -> list[SseEvent]:
    decoder = SseDecoder()
    events = decoder.feed(fixtures.load_bytes("anthropic", case, "stream.sse"))
    assert decoder.feed(b"\n\n") == [], "the fixture ends with a complete event"
    for event in events:
        payload = orjson.loads(event.data)
        validate_anthropic_event(payload)
        assert event.event == payload["type"]
    return events


def _replay(case: str) -> list[ChunkOut]:
    """Every recorded event is fed, and the stream must end exactly at its `message_stop`."""
    state = stream.StreamState(created=CREATED)
    out: list[ChunkOut] = []
    events = _events(case)
    for position, event in enumerate(events):
        assert not state.done, f"event {position} came after message_stop"
        out.extend(stream.parse_stream_event(event, state))
    assert state.done, "the recorded message_stop was consumed"
    for chunk in out:
        validate_openai("CreateChatCompletionStreamResponse", orjson.loads(chunk.data))
    return out


def _record(chunk: ChunkOut) -> dict[str, Any]:
    return {
        "data": orjson.loads(chunk.data),
        "usage": chunk.usage.model_dump() if chunk.usage else None,
        "usage_only": chunk.usage_only,
        "output_chars": chunk.output_chars,
    }


def _deltas(chunks: list[ChunkOut]) -> list[dict[str, Any]]:
    return [choice["delta"] for chunk in chunks for choice in orjson.loads(chunk.data)["choices"]]


def _finish_reasons(chunks: list[ChunkOut]) -> list[str]:
    return [
        choice["finish_reason"]
        for chunk in chunks
        for choice in orjson.loads(chunk.data)["choices"]
        if choice["finish_reason"]
    ]


@pytest.mark.parametrize("case", STREAMS)
def test_recorded_streams_replay_to_the_expected_chunks(case: str) -> None:
    assert [_record(chunk) for chunk in _replay(case)] == fixtures.load_jsonl("anthropic", case)


@pytest.mark.parametrize("case", STREAMS)
def test_every_chunk_shares_one_id_and_created(case: str) -> None:
    chunks = [orjson.loads(chunk.data) for chunk in _replay(case)]
    message_id = orjson.loads(_events(case)[0].data)["message"]["id"]
    assert {(c["id"], c["created"], c["model"]) for c in chunks} == {
        (message_id, CREATED, "claude-sonnet-4-5-20250929")
    }


@pytest.mark.parametrize("case", STREAMS)
def test_the_role_comes_in_the_first_chunk_only(case: str) -> None:
    deltas = _deltas(_replay(case))
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert all("role" not in delta for delta in deltas[1:])


@pytest.mark.parametrize("case", STREAMS)
@pytest.mark.proves("stream_usage", "anthropic")
@pytest.mark.proves("finish_reason", "anthropic")
def test_the_stream_ends_with_one_finish_reason_then_a_usage_only_chunk(case: str) -> None:
    chunks = _replay(case)
    assert len(_finish_reasons(chunks)) == 1
    assert orjson.loads(chunks[-2].data)["choices"][0]["finish_reason"] is not None
    last = chunks[-1]
    assert last.usage_only
    assert last.usage is not None
    assert orjson.loads(last.data)["choices"] == []
    assert [chunk for chunk in chunks if chunk.usage is not None] == [last]


def test_text_stream_gives_the_text_and_stop() -> None:
    chunks = _replay("text_stream")
    assert "".join(d.get("content") or "" for d in _deltas(chunks)) == "Hello, Oslo!"
    assert _finish_reasons(chunks) == ["stop"]
    assert sum(chunk.output_chars for chunk in chunks) == len("Hello, Oslo!")


@pytest.mark.proves("thinking_signature", "anthropic")
def test_thinking_stream_gives_reasoning_then_its_signature_then_text() -> None:
    deltas = _deltas(_replay("thinking_stream"))
    reasoning = "".join(d.get("reasoning_content", "") for d in deltas)
    assert reasoning == "".join(
        orjson.loads(event.data)["delta"].get("thinking", "")
        for event in _events("thinking_stream")
        if event.event == "content_block_delta"
    )
    signatures = [d["reasoning_signature"] for d in deltas if "reasoning_signature" in d]
    assert signatures == [stream_signature("thinking_stream")]
    kinds = [next(iter(d)) for d in deltas[1:] if d]
    assert kinds == ["reasoning_content", "reasoning_content", "reasoning_signature", "content"]


def stream_signature(case: str) -> str:
    for event in _events(case):
        delta = orjson.loads(event.data).get("delta", {})
        if delta.get("type") == "signature_delta":
            return str(delta["signature"])
    raise AssertionError("no signature in the fixture")


@pytest.mark.proves("tool_call_stream", "anthropic")
def test_parallel_tool_calls_keep_their_indexes_ids_and_arguments_apart() -> None:
    calls = [
        call for d in _deltas(_replay("tool_calls_stream")) for call in d.get("tool_calls", [])
    ]
    assert [(c["index"], c.get("id"), c["function"].get("name")) for c in calls] == [
        (0, "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather"),
        (0, None, None),
        (0, None, None),
        (1, "toolu_01CTfMfvqXiAfWvfMMPeMXrA", "get_weather"),
        (1, None, None),
        (1, None, None),
    ]
    arguments = {
        index: "".join(c["function"]["arguments"] for c in calls if c["index"] == index)
        for index in (0, 1)
    }
    assert {i: orjson.loads(a) for i, a in arguments.items()} == {
        0: {"city": "Oslo"},
        1: {"city": "Paris"},
    }


@pytest.mark.proves("tool_call_stream", "anthropic")
def test_tool_call_indexes_count_tool_blocks_only() -> None:
    # The text block is Claude's index 0, yet the first tool call is OpenAI's index 0.
    deltas = _deltas(_replay("tool_calls_stream"))
    assert deltas[1] == {"content": "Checking both cities."}
    assert deltas[2]["tool_calls"][0]["index"] == 0


@pytest.mark.proves("tool_call_stream", "anthropic")
@pytest.mark.proves("usage_cache", "anthropic")
@pytest.mark.proves("stream_usage", "anthropic")
def test_tool_stream_finishes_with_tool_calls_and_counts_cache_once() -> None:
    chunks = _replay("tool_calls_stream")
    assert _finish_reasons(chunks) == ["tool_calls"]
    assert chunks[-1].usage == Usage(
        prompt_tokens=12 + 1024 + 128,
        completion_tokens=89,
        total_tokens=12 + 1024 + 128 + 89,
        cached_read_tokens=1024,
        cache_write_tokens=128,
    )
    assert orjson.loads(chunks[-1].data)["usage"]["prompt_tokens_details"] == {
        "cached_tokens": 1024
    }


@pytest.mark.proves("response_format", "anthropic")
def test_json_tool_stream_becomes_content_deltas() -> None:
    chunks = _replay("json_schema_stream")
    deltas = _deltas(chunks)
    assert all("tool_calls" not in d for d in deltas)
    content = "".join(d.get("content") or "" for d in deltas)
    assert orjson.loads(content) == {"city": "Oslo", "population": 717710}
    assert _finish_reasons(chunks) == ["stop"]


@pytest.mark.proves("stream_usage", "anthropic")
def test_message_delta_input_counts_replace_the_start_counts() -> None:
    usage = _replay("thinking_stream")[-1].usage
    assert usage == Usage(prompt_tokens=44, completion_tokens=96, total_tokens=140)


@pytest.mark.proves("overloaded", "anthropic")
def test_error_event_ends_the_stream_with_the_mapped_error() -> None:
    events = _events("stream_error")
    state = stream.StreamState(created=CREATED)
    chunks = [chunk for event in events[:-1] for chunk in stream.parse_stream_event(event, state)]
    assert _deltas(chunks) == [{"role": "assistant", "content": ""}, {"content": "Hel"}]
    with pytest.raises(errors.UpstreamUnavailable, match="overloaded") as caught:
        stream.parse_stream_event(events[-1], state)
    assert caught.value.retryable


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("overloaded_error", errors.UpstreamUnavailable),
        ("api_error", errors.UpstreamUnavailable),
        ("rate_limit_error", errors.UpstreamRateLimited),
        ("timeout_error", errors.UpstreamTimeout),
        ("invalid_request_error", errors.UpstreamBadRequest),
        ("authentication_error", errors.UpstreamAuthFailed),
    ],
)
@pytest.mark.proves("errors", "anthropic")
@pytest.mark.proves("overloaded", "anthropic")
def test_error_event_types_map_to_the_taxonomy(
    kind: str, expected: type[errors.TollwayError]
) -> None:
    payload = {"type": "error", "error": {"type": kind, "message": "boom"}}
    validate_anthropic_event(payload)
    event = SseEvent(event="error", data=orjson.dumps(payload).decode())
    with pytest.raises(expected) as caught:
        stream.parse_stream_event(event, stream.new_stream_state())
    # Credential failures never echo the provider's text, which may quote the key.
    assert ("boom" in caught.value.message) is (expected is not errors.UpstreamAuthFailed)


@pytest.mark.parametrize(
    "payload",
    [{"type": "ping"}, {"type": "content_block_stop", "index": 0}, {"type": "future_event"}],
)
def test_events_without_output_give_no_chunks(payload: dict[str, Any]) -> None:
    event = SseEvent(event=payload["type"], data=orjson.dumps(payload).decode())
    assert stream.parse_stream_event(event, stream.new_stream_state()) == []


def test_a_non_json_event_is_an_upstream_error() -> None:
    with pytest.raises(errors.UpstreamUnavailable, match="not JSON"):
        stream.parse_stream_event(SseEvent(data="{oops"), stream.new_stream_state())


def test_new_state_is_stamped_with_the_current_time() -> None:
    assert stream.new_stream_state().created > CREATED
