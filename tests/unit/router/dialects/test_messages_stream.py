"""OpenAI chat streams -> Anthropic Messages events, replayed from recordings through each
OpenAI-wire provider's adapter wrapped as the router wraps it. Every event is checked against
Anthropic's event schemas, and the whole stream is read by the anthropic SDK's accumulator."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from tests.support import fixtures
from tests.support.messages_over_chat import (
    ADAPTER_IDS,
    CHAT_ADAPTERS,
    deployment_for,
    events_of,
    infer_for,
    replay,
    sdk_final_message,
)

from tollway_common.contract import Usage
from tollway_common.errors import UpstreamUnavailable
from tollway_common.providers import FACTS, Transport
from tollway_router.dialects.messages_adapter import messages_over_chat
from tollway_router.providers.adapter import Adapter, ChunkOut, SseEvent
from tollway_router.upstream import demo_server

ASKED: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 256,
    "stream": True,
    "messages": [{"role": "user", "content": "Weather in Oslo?"}],
}
THINKING = {**ASKED, "thinking": {"type": "enabled", "budget_tokens": 2048}}
TOOLS = {
    **ASKED,
    "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
}

adapters = pytest.mark.parametrize("adapter", CHAT_ADAPTERS, ids=ADAPTER_IDS)


def _recorded(adapter: Adapter[Any], case: str, body: dict[str, Any]) -> bytes:
    """The provider's own recording of `case`; the demo provider answers the chat request."""
    if FACTS[adapter.type].transport is Transport.IN_PROCESS:
        chat = {"model": "m", "stream": True, "stream_options": {"include_usage": True}}
        chat["messages"] = [{"role": "user", "content": "Hi there"}]
        if case == "tool_calls_stream":
            chat["tools"] = [{"type": "function", "function": {"name": "get_weather"}}]
        return demo_server.sse_bytes(demo_server.respond("/chat/completions", chat).events)
    return fixtures.load_bytes(adapter.type, case, "stream.sse")


def _kinds(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [
        kind if kind != "content_block_start" else f"start:{body['content_block']['type']}"
        for kind, body in events
        if kind != "content_block_delta"
    ]


@pytest.mark.proves("messages_stream")
@adapters
def test_a_text_stream_is_one_text_block_between_message_start_and_message_stop(
    adapter: Adapter[Any],
) -> None:
    chunks = replay(adapter, ASKED, _recorded(adapter, "text_stream", ASKED))
    events = events_of(chunks)
    assert _kinds(events) == [
        "message_start",
        "ping",
        "start:text",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    deltas = [body["delta"] for kind, body in events if kind == "content_block_delta"]
    assert deltas
    assert all(delta["type"] == "text_delta" for delta in deltas)
    final = sdk_final_message(chunks)
    assert final.content[0].type == "text"
    assert final.content[0].text == "".join(delta["text"] for delta in deltas)
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0


def _arguments_per_call(sse: bytes) -> list[dict[str, Any]]:
    """Each tool call's arguments as the chat stream spells them out, parsed."""
    pieces: dict[int, str] = {}
    for line in sse.decode().splitlines():
        data = line.removeprefix("data: ")
        if not line.startswith("data: {"):
            continue
        for choice in orjson.loads(data).get("choices") or []:
            for call in (choice.get("delta") or {}).get("tool_calls") or []:
                arguments = (call.get("function") or {}).get("arguments") or ""
                pieces[call["index"]] = pieces.get(call["index"], "") + arguments
    return [orjson.loads(pieces[index]) for index in sorted(pieces)]


@pytest.mark.proves("messages_stream_tools")
@adapters
def test_parallel_streamed_tool_calls_become_tool_use_blocks_in_order(
    adapter: Adapter[Any],
) -> None:
    recorded = _recorded(adapter, "tool_calls_stream", TOOLS)
    chunks = replay(adapter, TOOLS, recorded)
    events = events_of(chunks)
    starts = [body for kind, body in events if kind == "content_block_start"]
    assert [body["index"] for body in starts] == list(range(len(starts)))
    for start in starts:
        assert start["content_block"]["type"] == "tool_use"
        assert start["content_block"]["input"] == {}
    final = sdk_final_message(chunks)
    assert final.stop_reason == "tool_use"
    inputs = [block.input for block in final.content if block.type == "tool_use"]
    assert inputs == _arguments_per_call(recorded)


@pytest.mark.proves("messages_stream_tools")
@pytest.mark.proves("messages_reasoning")
@adapters
def test_reasoning_text_and_a_tool_call_split_mid_json_become_three_blocks(
    adapter: Adapter[Any],
) -> None:
    recorded = fixtures.load_bytes("openai", "reasoning_tool_stream", "stream.sse")
    chunks = replay(adapter, THINKING, recorded)
    events = events_of(chunks)
    assert _kinds(events) == [
        "message_start",
        "ping",
        "start:thinking",
        "content_block_stop",
        "start:text",
        "content_block_stop",
        "start:tool_use",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    pieces = [
        body["delta"]["partial_json"]
        for kind, body in events
        if kind == "content_block_delta" and body["delta"]["type"] == "input_json_delta"
    ]
    assert pieces == ['{"city": ', '"Os', 'lo"}']
    final = sdk_final_message(chunks)
    assert [block.type for block in final.content] == ["thinking", "text", "tool_use"]
    thinking, text, tool = final.content
    assert thinking.type == "thinking"
    assert thinking.thinking == "The user wants the weather in Oslo."
    assert text.type == "text"
    assert text.text == "Let me check."
    assert tool.type == "tool_use"
    assert (tool.id, tool.name, tool.input) == (
        "chatcmpl-tool-4b1e",
        "get_weather",
        {"city": "Oslo"},
    )


@pytest.mark.proves("messages_reasoning")
@adapters
def test_reasoning_is_left_out_for_a_client_that_did_not_ask_for_thinking(
    adapter: Adapter[Any],
) -> None:
    recorded = fixtures.load_bytes("openai", "reasoning_tool_stream", "stream.sse")
    chunks = replay(adapter, ASKED, recorded)
    assert [block.type for block in sdk_final_message(chunks).content] == ["text", "tool_use"]
    # Its characters still count toward the estimate used when a stream has no usage.
    assert sum(chunk.output_chars for chunk in chunks) == len(
        "The user wants the weather in Oslo.Let me check." + '{"city": "Oslo"}'
    )


@pytest.mark.proves("messages_stream_usage")
@adapters
def test_the_usage_chunk_reaches_no_client_and_the_usage_rides_on_the_last_event(
    adapter: Adapter[Any],
) -> None:
    recorded = fixtures.load_bytes("openai", "reasoning_tool_stream", "stream.sse")
    chunks = replay(adapter, ASKED, recorded)
    assert [chunk.usage for chunk in chunks[:-1]] == [None] * (len(chunks) - 1)
    assert chunks[-1].usage == Usage(
        prompt_tokens=152, completion_tokens=49, total_tokens=201, cached_read_tokens=128
    )
    assert not any(chunk.usage_only for chunk in chunks)
    kind, delta = events_of(chunks)[-2]
    assert kind == "message_delta"
    assert delta["usage"] == {
        "input_tokens": 24,
        "output_tokens": 49,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 128,
    }
    final = sdk_final_message(chunks)
    assert (final.usage.input_tokens, final.usage.output_tokens) == (24, 49)


@adapters
def test_an_error_mid_stream_ends_it_with_the_upstream_error(adapter: Adapter[Any]) -> None:
    recorded = fixtures.load_bytes("openai", "stream_error", "stream.sse")
    with pytest.raises(UpstreamUnavailable):
        replay(adapter, ASKED, recorded)


@adapters
def test_a_stream_cut_before_done_is_not_complete_and_sends_no_closing_events(
    adapter: Adapter[Any],
) -> None:
    wrapped = messages_over_chat(adapter, infer_for(ASKED), deployment_for(adapter.type))
    state = wrapped.new_stream_state()
    recorded = fixtures.load_bytes("openai", "text_stream", "stream.sse").decode()
    chunks: list[ChunkOut] = []
    for block in recorded.split("\n\n")[:3]:
        chunks += wrapped.parse_stream_event(SseEvent(block.removeprefix("data: ")), state)
    assert not wrapped.stream_complete(state)
    assert "message_stop" not in [kind for kind, _ in events_of(chunks)]


@pytest.mark.proves("messages_stream_tools")
@adapters
def test_a_piece_for_an_earlier_tool_call_keeps_that_calls_index(adapter: Adapter[Any]) -> None:
    def chunk(calls: list[dict[str, Any]], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": {"tool_calls": calls}, "finish_reason": finish}
        body = {"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1}
        return b"data: " + orjson.dumps({**body, "model": "m", "choices": [choice]}) + b"\n\n"

    def call(index: int, arguments: str, name: str | None = None) -> dict[str, Any]:
        piece: dict[str, Any] = {"index": index, "function": {"arguments": arguments}}
        if name:
            piece |= {"id": f"call_{index}", "type": "function"}
            piece["function"]["name"] = name
        return piece

    stream = (
        chunk([call(0, '{"a":', "first")])
        + chunk([call(1, '{"b": 2}', "second")])
        + chunk([call(0, " 1}")], "tool_calls")
        + b"data: [DONE]\n\n"
    )
    final = sdk_final_message(replay(adapter, TOOLS, stream))
    assert [(b.name, b.input) for b in final.content if b.type == "tool_use"] == [
        ("first", {"a": 1}),
        ("second", {"b": 2}),
    ]
