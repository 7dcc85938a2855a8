"""OpenAI's Responses API on a Claude deployment, through the whole stack: the official openai
SDK in front, the router translating Responses over its Claude chat adapter, the anthropic SDK
behind it against a fake Anthropic API that replays recorded traffic and checks every request
against Anthropic's schema (and every thinking signature sent back against those it issued).
Metering runs, so the usage rows in ClickHouse are read back too."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import openai
import pytest
from openai import AsyncOpenAI
from openai.types.responses import FunctionToolParam, Response, ResponseErrorEvent
from tests.support import fixtures
from tests.support.analytics import wait_for_usage
from tests.support.fake_anthropic_server import FakeAnthropicServer
from tests.support.openai_schema import validate_openai
from tests.support.responses_over_chat import EVENT_SCHEMAS, STREAM_EVENTS
from tests.support.stack import Stack, open_stack

from tollway_common.config_file import BootstrapKey, TollwayConfig
from tollway_common.contract import Endpoint, UsageRow
from tollway_common.control import Deployment, ModelAlias

KEY = "sk-tollway-responses-claude-0123456789"
UPSTREAM_KEY = "sk-ant-responses-never-logged-0123456789"
ALIAS = "claude"
UPSTREAM_MODEL = "claude-sonnet-4-5"
WEATHER: FunctionToolParam = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    "strict": False,
}


def _issued_unstreamed() -> set[tuple[str, str]]:
    """(thinking, signature) of the recorded unstreamed answer with thinking."""
    content = fixtures.load_json("anthropic", "thinking", "response.json")["content"]
    return {(b["thinking"], b["signature"]) for b in content if b["type"] == "thinking"}


@pytest.fixture(scope="module")
def module_claude(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Any]]:
    workdir = tmp_path_factory.mktemp("responses-claude")
    (workdir / "key").write_text(KEY)
    (workdir / "upstream").write_text(UPSTREAM_KEY)
    with ExitStack() as cleanup:
        upstream = cleanup.enter_context(FakeAnthropicServer())
        stack = open_stack(workdir, cleanup)
        deployment = Deployment(
            name="claude-direct",
            provider="anthropic",
            model=UPSTREAM_MODEL,
            api_base=upstream.base_url,
            api_key=f"file:{workdir / 'upstream'}",
        )
        stack.apply(
            TollwayConfig(
                models=[ModelAlias(name=ALIAS, deployments=[deployment])],
                keys=[BootstrapKey(name="t", secret=f"file:{workdir / 'key'}")],
            )
        )
        stack.start_metering()
        stack.start_router()
        stack.start_edge()
        yield stack, upstream


@pytest.fixture
def claude(module_claude: tuple[Stack, FakeAnthropicServer]) -> Iterator[Stack]:
    """The module's stack, its fake Anthropic API as a fresh one would be."""
    stack, upstream = module_claude
    upstream.requests.clear()
    upstream.fail_with = None
    upstream.stream_case = "text_stream"
    upstream.response_case = "chat"
    yield stack
    upstream.raise_invalid_requests()


@pytest.fixture
def upstream(module_claude: tuple[Stack, FakeAnthropicServer]) -> FakeAnthropicServer:
    return module_claude[1]


def _client(stack: Stack) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=stack.base_url, api_key=KEY, max_retries=0)


async def _rows(stack: Stack, request_ids: list[str]) -> dict[str, UsageRow]:
    rows = await wait_for_usage(stack.nats.url_as("test"), request_ids)
    return {row.request_id: row for row in rows}


def _metered_as_answered(row: UsageRow, response: Response, *, stream: bool) -> None:
    """The usage row of a Responses request: its endpoint, and the tokens the answer shows."""
    usage = response.usage
    assert usage is not None
    assert (row.endpoint, row.provider, row.deployment, row.model_alias) == (
        Endpoint.RESPONSES.value,
        "anthropic",
        "claude-direct",
        ALIAS,
    )
    assert (row.status_code, row.stream, row.usage_estimated) == (200, stream, False)
    assert (row.prompt_tokens, row.completion_tokens) == (
        usage.input_tokens,
        usage.output_tokens,
    )
    assert row.cached_read_tokens == usage.input_tokens_details.cached_tokens


@pytest.mark.proves("responses_translated", "anthropic")
@pytest.mark.proves("responses_create", "anthropic")
@pytest.mark.proves("responses_metered", "anthropic")
async def test_a_response_from_claude_is_translated_and_metered(
    claude: Stack, upstream: FakeAnthropicServer
) -> None:
    async with _client(claude) as client:
        raw = await client.responses.with_raw_response.create(
            model=ALIAS, instructions="Answer briefly.", input="Refund policy?"
        )
        validate_openai("Response", raw.http_response.json())
        response = raw.parse()
        assert await client.responses.retrieve(response.id) == response
    assert response.output_text == "Refunds are accepted within 30 days of purchase."
    assert (response.status, response.model, response.instructions) == (
        "completed",
        ALIAS,
        "Answer briefly.",
    )
    assert response.usage is not None
    assert response.usage.input_tokens == 14 + 312 + 2048
    assert response.usage.input_tokens_details.cached_tokens == 2048
    assert response.usage.output_tokens == 12
    [(headers, sent)] = upstream.requests
    assert UPSTREAM_KEY in (headers.get("x-api-key"), headers.get("authorization", "")[7:])
    assert sent["model"] == UPSTREAM_MODEL
    assert sent["system"] in ("Answer briefly.", [{"type": "text", "text": "Answer briefly."}])
    assert sent["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Refund policy?"}]}
    ]
    request_id = raw.headers["x-request-id"]
    _metered_as_answered((await _rows(claude, [request_id]))[request_id], response, stream=False)


@pytest.mark.proves("responses_stream", "anthropic")
@pytest.mark.proves("responses_metered", "anthropic")
async def test_a_stream_from_claude_is_typed_events_and_the_sdk_helper_reads_it_whole(
    claude: Stack, upstream: FakeAnthropicServer
) -> None:
    async with _client(claude) as client:
        stream = await client.responses.create(model=ALIAS, input="Hi", stream=True)
        request_id = stream.response.headers["x-request-id"]
        events = [event async for event in stream]
        completed = events[-1]
        assert completed.type == "response.completed"
        # Stored before the closing event left: readable the moment the stream ends.
        assert await client.responses.retrieve(completed.response.id) == completed.response
        async with client.responses.stream(model=ALIAS, input="Hi") as helper:
            final = await helper.get_final_response()
        stored = await client.responses.retrieve(final.id)
    for event in events:
        sent = event.to_dict()
        validate_openai(EVENT_SCHEMAS[event.type], sent)
        STREAM_EVENTS.validate_python(sent)
    assert [event.sequence_number for event in events] == list(range(len(events)))
    kinds = [event.type for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "Hello, Oslo!"
    assert final.output_text == "Hello, Oslo!"
    # The helper's ParsedResponse: the same Response as the one stored.
    assert (final.id, final.status, final.usage) == (stored.id, stored.status, stored.usage)
    assert final.output_text == stored.output_text
    assert all(sent.get("stream") is True for _, sent in upstream.requests)
    row = (await _rows(claude, [request_id]))[request_id]
    _metered_as_answered(row, completed.response, stream=True)


@pytest.mark.proves("responses_tools", "anthropic")
@pytest.mark.proves("responses_previous", "anthropic")
async def test_claudes_tool_calls_are_continued_with_their_outputs_by_previous_response_id(
    claude: Stack, upstream: FakeAnthropicServer
) -> None:
    upstream.stream_case = "tool_calls_stream"
    async with _client(claude) as client:
        async with client.responses.stream(
            model=ALIAS, instructions="Use the tools.", input="Weather?", tools=[WEATHER]
        ) as stream:
            first = await stream.get_final_response()
        calls = [item for item in first.output if item.type == "function_call"]
        assert [(c.name, c.arguments) for c in calls] == [
            ("get_weather", '{"city": "Oslo"}'),
            ("get_weather", '{"city": "Paris"}'),
        ]
        raw = await client.responses.with_raw_response.create(
            model=ALIAS,
            instructions="Answer in one sentence.",
            previous_response_id=first.id,
            input=[
                {"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny"},
                {"type": "function_call_output", "call_id": calls[1].call_id, "output": "rain"},
            ],
            tools=[WEATHER],
        )
        validate_openai("Response", raw.http_response.json())
        second = raw.parse()
    assert second.previous_response_id == first.id
    assert second.output_text == "Refunds are accepted within 30 days of purchase."
    [(_, asked), (_, continued)] = upstream.requests
    assert asked["system"] in ("Use the tools.", [{"type": "text", "text": "Use the tools."}])
    assert [tool["name"] for tool in asked["tools"]] == ["get_weather"]
    assert asked["tools"][0]["input_schema"] == WEATHER["parameters"]
    # The stored conversation goes to Claude whole; instructions are not carried over.
    assert continued["system"] in (
        "Answer in one sentence.",
        [{"type": "text", "text": "Answer in one sentence."}],
    )
    assert continued["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking both cities."},
                {
                    "type": "tool_use",
                    "id": calls[0].call_id,
                    "name": "get_weather",
                    "input": {"city": "Oslo"},
                },
                {
                    "type": "tool_use",
                    "id": calls[1].call_id,
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": calls[0].call_id, "content": "sunny"},
                {"type": "tool_result", "tool_use_id": calls[1].call_id, "content": "rain"},
            ],
        },
    ]
    assert calls[0].call_id == "toolu_01T1x1fJ34qAmk2tNTrN7Up6"


@pytest.mark.proves("responses_reasoning", "anthropic")
@pytest.mark.proves("responses_tools", "anthropic")
async def test_claudes_signed_thinking_comes_back_as_encrypted_content_and_goes_back_to_claude(
    claude: Stack, upstream: FakeAnthropicServer
) -> None:
    upstream.response_case = "thinking"
    ask: dict[str, Any] = {
        "model": ALIAS,
        "reasoning": {"effort": "low"},
        "max_output_tokens": 4000,
        "tools": [WEATHER],
    }
    async with _client(claude) as client:
        raw = await client.responses.with_raw_response.create(input="Weather in Oslo?", **ask)
        validate_openai("Response", raw.http_response.json())
        first = raw.parse()
        reasoning, message, call = first.output
        assert reasoning.type == "reasoning"
        assert message.type == "message"
        assert call.type == "function_call"
        upstream.response_case = "chat"
        second = await client.responses.create(
            previous_response_id=first.id,
            input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
            **ask,
        )
    [(thought, signature)] = _issued_unstreamed()
    assert reasoning.content is not None
    assert ("".join(part.text for part in reasoning.content), reasoning.encrypted_content) == (
        thought,
        signature,
    )
    assert second.output_text == "Refunds are accepted within 30 days of purchase."
    [(_, asked), (_, continued)] = upstream.requests
    assert asked["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert continued["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": thought, "signature": signature},
            {"type": "text", "text": "Let me check."},
            {
                "type": "tool_use",
                "id": call.call_id,
                "name": "get_weather",
                "input": {"city": "Oslo"},
            },
        ],
    }
    assert continued["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": call.call_id, "content": "sunny"}
    ]


@pytest.mark.proves("responses_reasoning", "anthropic")
@pytest.mark.proves("responses_stream", "anthropic")
@pytest.mark.proves("responses_previous", "anthropic")
async def test_claudes_streamed_thinking_is_signed_reasoning_that_the_next_turn_sends_back(
    claude: Stack, upstream: FakeAnthropicServer
) -> None:
    upstream.stream_case = "thinking_stream"
    async with _client(claude) as client:
        stream = await client.responses.create(
            model=ALIAS,
            input="Is 1009 prime?",
            reasoning={"effort": "low"},
            max_output_tokens=4000,
            stream=True,
        )
        events = [event async for event in stream]
        for event in events:
            validate_openai(EVENT_SCHEMAS[event.type], event.to_dict())
        completed = events[-1]
        assert completed.type == "response.completed"
        first = completed.response
        second = await client.responses.create(
            model=ALIAS, previous_response_id=first.id, input="And 1013?"
        )
    reasoning, message = first.output
    assert reasoning.type == "reasoning"
    assert message.type == "message"
    assert message.content[0].type == "output_text"
    assert message.content[0].text == "Yes, 1009 is prime."
    [(thought, signature)] = upstream.issued - _issued_unstreamed()
    assert reasoning.content is not None
    assert ("".join(part.text for part in reasoning.content), reasoning.encrypted_content) == (
        thought,
        signature,
    )
    streamed = "".join(e.delta for e in events if e.type == "response.reasoning_text.delta")
    assert streamed == thought
    assert second.previous_response_id == first.id
    [_, (_, continued)] = upstream.requests
    assert continued["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Is 1009 prime?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": thought, "signature": signature},
                {"type": "text", "text": "Yes, 1009 is prime."},
            ],
        },
        {"role": "user", "content": [{"type": "text", "text": "And 1013?"}]},
    ]


@pytest.mark.proves("responses_stream_error", "anthropic")
async def test_claude_failing_mid_stream_ends_the_stream_with_the_sdks_error_event(
    claude: Stack, upstream: FakeAnthropicServer
) -> None:
    upstream.stream_case = "stream_error"
    async with _client(claude) as client:
        stream = await client.responses.create(model=ALIAS, input="Hi", stream=True)
        events = [event async for event in stream]
    for event in events:
        validate_openai(EVENT_SCHEMAS[event.type], event.to_dict())
    error = events[-1]
    assert isinstance(error, ResponseErrorEvent)
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert error.code == "upstream_overloaded"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "Hel"


async def test_what_claude_cannot_take_is_a_400_naming_the_responses_field(
    claude: Stack, upstream: FakeAnthropicServer
) -> None:
    async with _client(claude) as client:
        with pytest.raises(openai.BadRequestError) as refused:
            await client.responses.create(
                model=ALIAS,
                input=[
                    {"role": "user", "content": "Weather?"},
                    {
                        "type": "function_call",
                        "call_id": "c1",
                        "name": "get_weather",
                        "arguments": "[",
                    },
                    {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
                ],
                tools=[WEATHER],
            )
    validate_openai("ErrorResponse", refused.value.response.json())
    assert (refused.value.code, refused.value.param) == ("invalid_value", "input[1].arguments")
    assert upstream.requests == []
