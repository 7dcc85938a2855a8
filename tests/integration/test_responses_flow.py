"""OpenAI's Responses API through the whole stack with the official SDK: passed through to an
OpenAI deployment (`store: false` upstream, Tollway keeps the response), streamed as typed
events, continued with `previous_response_id` (a function tool's output included), read back,
listed, deleted, hidden from other keys, reached through the Azure client, metered as
`responses`; and translated over chat for a deployment that serves only chat.

The translated test passes once helper T's `dialects/responses_adapter.py` replaces the
placeholder (which refuses with `unsupported_endpoint`).
"""

from __future__ import annotations

from typing import Any

import httpx
import openai
import orjson
import pytest
from openai import AsyncAzureOpenAI, AsyncOpenAI
from openai.types.responses import FunctionToolParam, ResponseErrorEvent
from tests.support import fake_responses
from tests.support.configs import LIMITED_KEY
from tests.support.fake_openai_server import FakeOpenAIServer, Fault
from tests.support.openai_schema import validate_openai
from tests.support.responses_over_chat import EVENT_SCHEMAS
from tests.support.stack import Stack
from tests.support.usage_stream import usage_events

from tollway_common.contract import Endpoint
from tollway_router.upstream import demo_server

WEATHER: FunctionToolParam = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    "strict": False,
}


def _client(stack: Stack, key: str) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=stack.base_url, api_key=key, max_retries=0)


@pytest.mark.proves("responses_native", "openai")
@pytest.mark.proves("responses_create", "openai")
@pytest.mark.proves("responses_metered", "openai")
async def test_a_response_is_passed_through_stored_and_metered(
    shared_stack: Stack, api_key: str, shared_upstream: FakeOpenAIServer
) -> None:
    async with _client(shared_stack, api_key) as client:
        raw = await client.responses.with_raw_response.create(model="gpt-test", input="Hello")
        response = raw.parse()
        validate_openai("Response", raw.http_response.json())
        assert response.output_text == f"{fake_responses.GREETING} Hello"
        answered = raw.http_response.json()
        assert (answered["store"], answered["previous_response_id"]) == (True, None)
        [sent] = shared_upstream.requests
        assert sent.path == "/v1/responses"
        assert sent.json["store"] is False
        assert sent.json["model"] == "gpt-4o-mini"
        assert "previous_response_id" not in sent.json
        stored = await client.responses.retrieve(response.id)
        assert stored == response
    request_id = raw.headers["x-request-id"]
    event = (await usage_events(shared_stack.nats.url_as("test"), [request_id]))[request_id]
    assert response.usage is not None
    assert (event.endpoint, event.status_code, event.deployment) == (
        Endpoint.RESPONSES,
        200,
        "fake-openai",
    )
    assert (event.prompt_tokens, event.completion_tokens, event.usage_estimated) == (
        response.usage.input_tokens,
        response.usage.output_tokens,
        False,
    )


@pytest.mark.proves("responses_stream", "openai")
async def test_a_stream_is_typed_events_and_is_stored_when_it_completes(
    shared_stack: Stack, api_key: str
) -> None:
    async with _client(shared_stack, api_key) as client:
        stream = await client.responses.create(model="gpt-test", input="Hi there", stream=True)
        events = [event async for event in stream]
        assert events[0].type == "response.created"
        completed = events[-1]
        assert completed.type == "response.completed"
        assert [e.sequence_number for e in events] == list(range(len(events)))
        text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        assert text == f"{fake_responses.GREETING} Hi there"
        assert completed.response.to_dict()["store"] is True
        # Stored before the closing event left: readable the moment the stream ends.
        assert await client.responses.retrieve(completed.response.id) == completed.response


@pytest.mark.proves("responses_stream", "openai")
async def test_the_raw_stream_is_valid_events_ending_without_a_done_marker(
    shared_stack: Stack, api_key: str
) -> None:
    async with httpx.AsyncClient(base_url=shared_stack.base_url) as http:
        reply = await http.post(
            "/responses",
            json={"model": "gpt-test", "input": "Hi", "stream": True},
            headers={"authorization": f"Bearer {api_key}"},
        )
    assert reply.headers["content-type"].startswith("text/event-stream")
    assert reply.text.startswith("event: response.created\ndata: ")
    assert reply.text.rstrip().split("\n")[-2] == "event: response.completed"
    assert "[DONE]" not in reply.text
    for frame in reply.text.strip().split("\n\n"):
        kind, data = frame.split("\n")
        event = orjson.loads(data.removeprefix("data: "))
        assert kind == f"event: {event['type']}"
        validate_openai("ResponseStreamEvent", event)


@pytest.mark.proves("responses_tools", "openai")
@pytest.mark.proves("responses_previous", "openai")
async def test_a_function_call_is_continued_with_its_output_by_previous_response_id(
    shared_stack: Stack, api_key: str, shared_upstream: FakeOpenAIServer
) -> None:
    async with _client(shared_stack, api_key) as client:
        first = await client.responses.create(model="gpt-test", input="Oslo", tools=[WEATHER])
        [call] = first.output
        assert call.type == "function_call"
        second = await client.responses.create(
            model="gpt-test",
            previous_response_id=first.id,
            input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
            tools=[WEATHER],
        )
        assert second.output_text == f"{fake_responses.TOOL_ANSWER} sunny"
        assert second.previous_response_id == first.id
        sent = shared_upstream.requests[-1].json
        assert "previous_response_id" not in sent
        assert [item.get("type") for item in sent["input"]] == [
            "message",
            "function_call",
            "function_call_output",
        ]
        third = await client.responses.create(
            model="gpt-test", previous_response_id=second.id, input="And tomorrow?"
        )
        assert third.output_text == f"{fake_responses.GREETING} And tomorrow?"
        assert len(shared_upstream.requests[-1].json["input"]) == 5


async def test_input_items_are_listed_and_a_deleted_response_is_gone(
    shared_stack: Stack, api_key: str
) -> None:
    async with _client(shared_stack, api_key) as client:
        response = await client.responses.create(
            model="gpt-test",
            input=[{"role": "user", "content": "one"}, {"role": "user", "content": "two"}],
        )
        raw = await client.responses.input_items.with_raw_response.list(response.id)
        validate_openai("ResponseItemList", raw.http_response.json())
        page = await client.responses.input_items.list(response.id, order="asc", limit=1)
        assert [item.type for item in page.data] == ["message"]
        assert page.has_more is True
        everything = [item async for item in client.responses.input_items.list(response.id)]
        texts = [item.content[0].text for item in everything if item.type == "message"]  # type: ignore[union-attr]
        assert texts == ["two", "one"]
        deleted = await client.responses.with_raw_response.delete(response.id)
        assert deleted.http_response.json() == {
            "id": response.id,
            "object": "response.deleted",
            "deleted": True,
        }
        with pytest.raises(openai.NotFoundError):
            await client.responses.retrieve(response.id)


async def test_another_key_sees_no_stored_response_and_cannot_continue_it(
    shared_stack: Stack, api_key: str
) -> None:
    async with _client(shared_stack, api_key) as owner:
        response = await owner.responses.create(model="gpt-test", input="mine")
    async with _client(shared_stack, LIMITED_KEY) as other:
        with pytest.raises(openai.NotFoundError) as hidden:
            await other.responses.retrieve(response.id)
        validate_openai("ErrorResponse", hidden.value.response.json())
        message = hidden.value.response.json()["error"]["message"]
        assert message == f"Response with id '{response.id}' not found."
        with pytest.raises(openai.NotFoundError):
            await other.responses.input_items.list(response.id)
        with pytest.raises(openai.NotFoundError):
            await other.responses.delete(response.id)
        with pytest.raises(openai.BadRequestError) as refused:
            await other.responses.create(
                model="tollway-demo", previous_response_id=response.id, input="yours?"
            )
    assert (refused.value.code, refused.value.param) == (
        "previous_response_not_found",
        "previous_response_id",
    )
    async with _client(shared_stack, api_key) as owner:
        assert (await owner.responses.retrieve(response.id)).id == response.id


async def test_cancel_and_background_are_refused(shared_stack: Stack, api_key: str) -> None:
    async with _client(shared_stack, api_key) as client:
        with pytest.raises(openai.BadRequestError) as cancel:
            await client.responses.cancel("resp_any")
        with pytest.raises(openai.BadRequestError) as background:
            await client.responses.create(model="gpt-test", input="x", background=True)
        with pytest.raises(openai.BadRequestError) as replay:
            await client.responses.retrieve("resp_any", stream=True)
    assert replay.value.param == "stream"
    assert cancel.value.param == "response_id"
    assert background.value.param == "background"
    assert "background responses are not supported" in background.value.message


@pytest.mark.proves("responses_stream_error", "openai")
async def test_a_stream_cut_off_upstream_ends_with_the_sdks_error_event(
    shared_stack: Stack, api_key: str, shared_upstream: FakeOpenAIServer
) -> None:
    shared_upstream.fault = Fault(kind="truncated_stream", times=1)
    async with _client(shared_stack, api_key) as client:
        stream = await client.responses.create(model="gpt-test", input="Hi", stream=True)
        events = [event async for event in stream]
    error = events[-1]
    assert isinstance(error, ResponseErrorEvent)
    assert error.code == "upstream_error"
    assert error.sequence_number == len(events) - 1


async def test_the_azure_client_reaches_responses(shared_stack: Stack, api_key: str) -> None:
    client = AsyncAzureOpenAI(
        azure_endpoint=shared_stack.edge_url,
        api_key=api_key,
        api_version="2025-04-01-preview",
        max_retries=0,
    )
    async with client:
        response = await client.responses.create(model="gpt-test", input="From Azure")
        assert response.output_text == f"{fake_responses.GREETING} From Azure"
        assert (await client.responses.retrieve(response.id)).id == response.id


@pytest.mark.proves("responses_translated", "fake")
@pytest.mark.proves("responses_create", "fake")
@pytest.mark.proves("responses_previous", "fake")
@pytest.mark.proves("responses_metered", "fake")
async def test_a_chat_only_deployment_serves_responses_translated(
    shared_stack: Stack, api_key: str
) -> None:
    async with _client(shared_stack, api_key) as client:
        raw = await client.responses.with_raw_response.create(model="tollway-demo", input="Hello")
        first = raw.parse()
        validate_openai("Response", raw.http_response.json())
        assert "Hello" in first.output_text
        assert await client.responses.retrieve(first.id) == first
        second = await client.responses.create(
            model="tollway-demo", previous_response_id=first.id, input="Again"
        )
        assert second.previous_response_id == first.id
        assert "Again" in second.output_text
        items: list[Any] = [i async for i in client.responses.input_items.list(second.id)]
        assert len(items) == 1
    request_id = raw.headers["x-request-id"]
    event = (await usage_events(shared_stack.nats.url_as("test"), [request_id]))[request_id]
    assert (event.endpoint, event.deployment, event.status_code) == (
        Endpoint.RESPONSES,
        "demo-fake",
        200,
    )
    assert first.usage is not None
    assert (event.prompt_tokens, event.completion_tokens, event.usage_estimated) == (
        first.usage.input_tokens,
        first.usage.output_tokens,
        False,
    )


@pytest.mark.proves("responses_stream", "fake")
@pytest.mark.proves("responses_tools", "fake")
async def test_the_demo_model_streams_a_tool_call_that_its_output_continues(
    shared_stack: Stack, api_key: str
) -> None:
    async with _client(shared_stack, api_key) as client:
        stream = await client.responses.create(
            model="tollway-demo", input="Oslo", tools=[WEATHER], stream=True
        )
        events = [event async for event in stream]
        for event in events:
            validate_openai(EVENT_SCHEMAS[event.type], event.to_dict())
        assert [event.sequence_number for event in events] == list(range(len(events)))
        completed = events[-1]
        assert completed.type == "response.completed"
        [call] = completed.response.output
        assert call.type == "function_call"
        assert (call.name, call.arguments) == ("get_weather", '{"query":"Oslo"}')
        async with client.responses.stream(
            model="tollway-demo",
            previous_response_id=completed.response.id,
            input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
            tools=[WEATHER],
        ) as answer:
            second = await answer.get_final_response()
    assert second.output_text == f"{demo_server.GREETING} Oslo"
