"""Chat streams -> OpenAI Responses events, replayed through each chat adapter wrapped as the
router wraps it: the OpenAI-wire adapters fed recorded chat streams (the demo provider its own
answer), the Claude adapter fed recorded Anthropic streams. Every event is checked against
OpenAI's spec and the openai SDK's `ResponseStreamEvent` union, and the whole stream is read by
the SDK's own accumulator (`responses.stream(...).get_final_response()`)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from tests.support import fixtures
from tests.support.responses_over_chat import (
    ADAPTER_IDS,
    ANTHROPIC,
    CHAT_ADAPTERS,
    FAKE,
    check_response,
    demo_stream,
    events_of,
    replay,
    sdk_final_response,
    translated,
)

from tollway_common.contract import Usage
from tollway_common.errors import UpstreamUnavailable
from tollway_common.providers import FACTS, Transport
from tollway_router.providers.adapter import Adapter, ChunkOut, SseEvent

WEATHER = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}
ASKED: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "input": "Weather in Oslo?",
    "max_output_tokens": 256,
    "stream": True,
}
TOOLS = {**ASKED, "tools": [WEATHER]}
Event = tuple[str, dict[str, Any]]

adapters = pytest.mark.parametrize("adapter", CHAT_ADAPTERS, ids=ADAPTER_IDS)


def _recorded(adapter: Adapter[Any], case: str, body: dict[str, Any]) -> bytes:
    """The provider's own recording of `case`; the demo provider answers the chat request."""
    if FACTS[adapter.type].transport is Transport.IN_PROCESS:
        return demo_stream(body)
    return fixtures.load_bytes(adapter.type, case, "stream.sse")


def _kinds(events: list[Event]) -> list[str]:
    """The event types, an added or done item with its kind, deltas left out."""
    kinds = []
    for kind, body in events:
        if kind.endswith(".delta"):
            continue
        if kind.startswith("response.output_item."):
            kind = f"{kind.rsplit('.', 1)[1]}:{body['item']['type']}"
        kinds.append(kind)
    return kinds


def _checked(chunks: list[ChunkOut]) -> list[Event]:
    """The events, with what every stream promises: numbered from 0 without gaps, one response
    id throughout, and the closing event (the only one with usage) holding the Response."""
    events = events_of(chunks)
    assert [body["sequence_number"] for _, body in events] == list(range(len(events)))
    assert [kind for kind, _ in events[:2]] == ["response.created", "response.in_progress"]
    for _, body in events[:2]:
        assert body["response"]["status"] == "in_progress"
        assert body["response"]["output"] == []
    closing_kind, closing = events[-1]
    assert closing_kind in ("response.completed", "response.incomplete")
    ids = {body["response"]["id"] for _, body in (events[0], events[1], events[-1])}
    assert len(ids) == 1
    check_response(closing["response"])
    assert all(chunk.usage is None for chunk in chunks[:-1])
    assert not any(chunk.usage_only for chunk in chunks)
    done = [body["item"] for kind, body in events if kind == "response.output_item.done"]
    assert closing["response"]["output"] == done
    return events


def _text_deltas(events: list[Event]) -> str:
    return "".join(body["delta"] for kind, body in events if kind == "response.output_text.delta")


@adapters
def test_a_text_stream_is_one_message_item_and_the_sdk_reads_it(adapter: Adapter[Any]) -> None:
    chunks = replay(adapter, ASKED, _recorded(adapter, "text_stream", ASKED))
    events = _checked(chunks)
    assert _kinds(events) == [
        "response.created",
        "response.in_progress",
        "added:message",
        "response.content_part.added",
        "response.output_text.done",
        "response.content_part.done",
        "done:message",
        "response.completed",
    ]
    text = _text_deltas(events)
    assert text
    final = sdk_final_response(chunks)
    assert final.output_text == text
    assert final.status == "completed"
    assert final.model == "claude-sonnet-4-5"
    assert final.usage is not None
    assert final.usage.output_tokens > 0
    assert chunks[-1].usage is not None
    assert final.usage.output_tokens == chunks[-1].usage.completion_tokens


def _arguments_per_call(sse: bytes) -> list[dict[str, Any]]:
    """Each tool call's arguments as the chat stream spells them out, parsed."""
    pieces: dict[int, str] = {}
    for line in sse.decode().splitlines():
        if not line.startswith("data: {"):
            continue
        for choice in orjson.loads(line.removeprefix("data: ")).get("choices") or []:
            for call in (choice.get("delta") or {}).get("tool_calls") or []:
                arguments = (call.get("function") or {}).get("arguments") or ""
                pieces[call["index"]] = pieces.get(call["index"], "") + arguments
    return [orjson.loads(pieces[index]) for index in sorted(pieces)]


@adapters
def test_parallel_tool_calls_become_function_call_items_in_order(adapter: Adapter[Any]) -> None:
    recorded = _recorded(adapter, "tool_calls_stream", TOOLS)
    chunks = replay(adapter, TOOLS, recorded)
    events = _checked(chunks)
    added = [body for kind, body in events if kind == "response.output_item.added"]
    assert [body["output_index"] for body in added] == list(range(len(added)))
    assert all(body["item"]["type"] == "function_call" for body in added)
    done = [
        orjson.loads(body["arguments"])
        for kind, body in events
        if kind == "response.function_call_arguments.done"
    ]
    assert done == _arguments_per_call(recorded)
    final = sdk_final_response(chunks, tools=[WEATHER])
    calls = [item for item in final.output if item.type == "function_call"]
    assert [orjson.loads(call.arguments) for call in calls] == done


@adapters
def test_reasoning_text_and_a_tool_call_split_mid_json_become_three_items(
    adapter: Adapter[Any],
) -> None:
    recorded = fixtures.load_bytes("openai", "reasoning_tool_stream", "stream.sse")
    chunks = replay(adapter, TOOLS, recorded)
    events = _checked(chunks)
    assert _kinds(events) == [
        "response.created",
        "response.in_progress",
        "added:reasoning",
        "response.content_part.added",
        "response.reasoning_text.done",
        "response.content_part.done",
        "done:reasoning",
        "added:message",
        "response.content_part.added",
        "response.output_text.done",
        "response.content_part.done",
        "done:message",
        "added:function_call",
        "response.function_call_arguments.done",
        "done:function_call",
        "response.completed",
    ]
    pieces = [
        body["delta"] for kind, body in events if kind == "response.function_call_arguments.delta"
    ]
    assert pieces == ['{"city": ', '"Os', 'lo"}']
    final = sdk_final_response(chunks, tools=[WEATHER])
    reasoning, _message, call = final.output
    assert reasoning.type == "reasoning"
    assert reasoning.content is not None
    assert reasoning.content[0].text == "The user wants the weather in Oslo."
    assert final.output_text == "Let me check."
    assert call.type == "function_call"
    assert (call.call_id, call.name, orjson.loads(call.arguments)) == (
        "chatcmpl-tool-4b1e",
        "get_weather",
        {"city": "Oslo"},
    )
    # Usage rides on the closing event, and the chat usage chunk makes no event of its own.
    assert chunks[-1].usage == Usage(
        prompt_tokens=152, completion_tokens=49, total_tokens=201, cached_read_tokens=128
    )
    assert final.usage is not None
    assert final.usage.input_tokens == 152
    assert final.usage.input_tokens_details.cached_tokens == 128
    assert final.usage.output_tokens == 49
    # Every output character counts toward the estimate used when a stream has no usage.
    assert sum(chunk.output_chars for chunk in chunks) == len(
        "The user wants the weather in Oslo.Let me check." + '{"city": "Oslo"}'
    )


@pytest.mark.parametrize("case", ["text_stream", "thinking_stream", "tool_calls_stream"])
def test_claudes_streams_through_the_claude_chat_adapter_read_back_whole(case: str) -> None:
    recorded = fixtures.load_bytes("anthropic", case, "stream.sse")
    chunks = replay(ANTHROPIC, TOOLS, recorded)
    events = _checked(chunks)
    final = sdk_final_response(chunks, tools=[WEATHER])
    assert final.output_text == _text_deltas(events)
    assert final.usage is not None
    assert final.usage.output_tokens > 0
    if case == "thinking_stream":
        [reasoning] = [item for item in final.output if item.type == "reasoning"]
        # Claude's signature rides back as encrypted_content, for the next turn's thinking.
        assert reasoning.encrypted_content is not None
        assert reasoning.encrypted_content.startswith("EqQBCgIYAhIM")
    if case == "tool_calls_stream":
        calls = [item for item in final.output if item.type == "function_call"]
        assert len(calls) == 2
        assert all(call.call_id.startswith("toolu_") for call in calls)
        assert all(isinstance(orjson.loads(call.arguments), dict) for call in calls)


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    body = {"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    return b"data: " + orjson.dumps({**body, "choices": [choice]}) + b"\n\n"


def _usage_chunk(prompt: int, completion: int) -> bytes:
    usage = {"prompt_tokens": prompt, "completion_tokens": completion}
    body = {"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    return b"data: " + orjson.dumps({**body, "choices": [], "usage": usage}) + b"\n\n"


def test_a_stream_cut_by_the_token_bound_ends_with_response_incomplete() -> None:
    stream = (
        _chunk({"content": "Once upon"})
        + _chunk({"content": " a time"}, "length")
        + _usage_chunk(5, 3)
        + b"data: [DONE]\n\n"
    )
    chunks = replay(FAKE, ASKED, stream)
    events = _checked(chunks)
    kind, closing = events[-1]
    assert kind == "response.incomplete"
    response = closing["response"]
    assert response["incomplete_details"] == {"reason": "max_output_tokens"}
    assert response["output"][0]["status"] == "incomplete"
    assert response["output"][0]["content"][0]["text"] == "Once upon a time"
    assert response["usage"]["output_tokens"] == 3


def test_a_refusal_streams_as_a_refusal_part_after_the_text() -> None:
    stream = (
        _chunk({"content": "Well"})
        + _chunk({"refusal": "I can't"})
        + _chunk({"refusal": " help."}, "stop")
        + b"data: [DONE]\n\n"
    )
    events = _checked(replay(FAKE, ASKED, stream))
    assert [body["delta"] for kind, body in events if kind == "response.refusal.delta"] == [
        "I can't",
        " help.",
    ]
    message = events[-1][1]["response"]["output"][0]
    assert message["content"] == [
        {"type": "output_text", "text": "Well", "annotations": [], "logprobs": []},
        {"type": "refusal", "refusal": "I can't help."},
    ]


def test_a_piece_for_an_earlier_tool_call_keeps_that_calls_output_index() -> None:
    def call(index: int, arguments: str, name: str | None = None) -> dict[str, Any]:
        piece: dict[str, Any] = {"index": index, "function": {"arguments": arguments}}
        if name:
            piece |= {"id": f"call_{index}", "type": "function"}
            piece["function"]["name"] = name
        return piece

    stream = (
        _chunk({"tool_calls": [call(0, '{"a":', "first")]})
        + _chunk({"tool_calls": [call(1, '{"b": 2}', "second")]})
        + _chunk({"tool_calls": [call(0, " 1}")]}, "tool_calls")
        + b"data: [DONE]\n\n"
    )
    chunks = replay(FAKE, TOOLS, stream)
    _checked(chunks)
    final = sdk_final_response(chunks, tools=[WEATHER])
    assert [
        (c.name, c.call_id, c.arguments) for c in final.output if c.type == "function_call"
    ] == [
        ("first", "call_0", '{"a": 1}'),
        ("second", "call_1", '{"b": 2}'),
    ]


def test_arguments_sent_before_the_calls_name_wait_for_it() -> None:
    stream = (
        _chunk({"tool_calls": [{"index": 0, "id": "c", "function": {"arguments": '{"x"'}}]})
        + _chunk({"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": ": 1}"}}]})
        + b"data: [DONE]\n\n"
    )
    events = _checked(replay(FAKE, TOOLS, stream))
    [done] = [body for kind, body in events if kind == "response.function_call_arguments.done"]
    assert (done["name"], done["arguments"]) == ("f", '{"x": 1}')


@adapters
def test_an_error_mid_stream_ends_it_with_the_upstream_error(adapter: Adapter[Any]) -> None:
    recorded = fixtures.load_bytes("openai", "stream_error", "stream.sse")
    with pytest.raises(UpstreamUnavailable):
        replay(adapter, ASKED, recorded)


def test_a_tool_call_that_never_names_its_function_is_an_upstream_failure() -> None:
    stream = _chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]})
    with pytest.raises(UpstreamUnavailable):
        replay(FAKE, TOOLS, stream + b"data: [DONE]\n\n")


@adapters
def test_a_stream_cut_before_done_is_not_complete_and_sends_no_closing_event(
    adapter: Adapter[Any],
) -> None:
    wrapped = translated(adapter, ASKED)
    state = wrapped.new_stream_state()
    recorded = fixtures.load_bytes("openai", "text_stream", "stream.sse").decode()
    chunks: list[ChunkOut] = []
    for block in recorded.split("\n\n")[:3]:
        chunks += wrapped.parse_stream_event(SseEvent(block.removeprefix("data: ")), state)
    assert not wrapped.stream_complete(state)
    kinds = [kind for kind, _ in events_of(chunks)]
    assert "response.completed" not in kinds
    assert all(chunk.usage is None for chunk in chunks)


def test_an_empty_answer_still_opens_and_closes_the_response() -> None:
    chunks = replay(FAKE, ASKED, _chunk({}, "stop") + b"data: [DONE]\n\n")
    events = _checked(chunks)
    assert _kinds(events) == ["response.created", "response.in_progress", "response.completed"]
    assert sdk_final_response(chunks).output == []
