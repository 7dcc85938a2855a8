"""The anthropic SDK (as Claude Code uses it) through the edge to deployments that speak only
chat: an OpenAI-compatible server and the demo model. The edge and the router translate both
ways; the client sees Anthropic's wire, checked against the published schema, and metering,
policies and token counting apply as on chat."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anthropic
import httpx
import orjson
import pytest
from anthropic import AsyncAnthropic
from tests.support.analytics import wait_for_usage
from tests.support.anthropic_schema import validate_anthropic, validate_anthropic_event
from tests.support.configs import LIMITED_KEY, TEST_KEY
from tests.support.fake_openai_server import FakeOpenAIServer
from tests.support.stack import Stack

OVER_CHAT = ["gpt-test", "tollway-demo"]
HELLO: list[anthropic.types.MessageParam] = [{"role": "user", "content": "Hello over chat"}]


@pytest.fixture(scope="module")
def metered_stack(module_stack: Stack) -> Stack:
    """The module's stack with metering (stopped with it), so usage rows can be read back."""
    module_stack.start_metering()
    return module_stack


@pytest.fixture
async def client(
    metered_stack: Stack, shared_upstream: FakeOpenAIServer
) -> AsyncIterator[AsyncAnthropic]:
    async with AsyncAnthropic(
        base_url=metered_stack.edge_url, auth_token=TEST_KEY, max_retries=0
    ) as sdk:
        yield sdk


@pytest.mark.parametrize("model", OVER_CHAT)
async def test_messages_create_over_chat_is_an_anthropic_message(
    client: AsyncAnthropic, metered_stack: Stack, model: str
) -> None:
    raw = await client.messages.with_raw_response.create(
        model=model, max_tokens=64, messages=HELLO, system="Be brief."
    )
    validate_anthropic("Message", raw.http_response.json())
    message = await raw.parse()
    assert message.content[0].type == "text"
    assert message.content[0].text
    assert message.stop_reason in ("end_turn", "max_tokens")
    assert message.usage.output_tokens > 0
    request_id = raw.http_response.headers["request-id"]
    [row] = await wait_for_usage(metered_stack.nats.url_as("test"), [request_id])
    assert row.endpoint == "messages"
    assert row.completion_tokens == message.usage.output_tokens


@pytest.mark.parametrize("model", OVER_CHAT)
async def test_a_stream_over_chat_is_anthropics_event_sequence(
    client: AsyncAnthropic, metered_stack: Stack, model: str
) -> None:
    body = {"model": model, "max_tokens": 64, "messages": HELLO, "stream": True}
    async with httpx.AsyncClient(base_url=metered_stack.edge_url) as http:
        response = await http.post(
            "/v1/messages", json=body, headers={"authorization": f"Bearer {TEST_KEY}"}
        )
    assert response.status_code == 200
    assert b"[DONE]" not in response.content
    kinds = []
    for block in response.content.decode().strip().split("\n\n"):
        event_line, data_line = block.split("\n", 1)
        kind = event_line.removeprefix("event: ")
        data = orjson.loads(data_line.removeprefix("data: "))
        assert data["type"] == kind, "the event line names the event's own type"
        validate_anthropic_event(data)
        kinds.append(kind)
    assert kinds[0] == "message_start"
    assert kinds[-2:] == ["message_delta", "message_stop"]
    async with client.messages.stream(model=model, max_tokens=64, messages=HELLO) as stream:
        text = await stream.get_final_text()
        final = await stream.get_final_message()
    assert text
    assert final.usage.output_tokens > 0


@pytest.mark.parametrize("model", OVER_CHAT)
async def test_count_tokens_over_chat_is_the_gateway_estimate(
    client: AsyncAnthropic, shared_upstream: FakeOpenAIServer, model: str
) -> None:
    counted = await client.messages.count_tokens(model=model, messages=HELLO)
    assert counted.input_tokens > 0
    assert shared_upstream.requests == [], "nothing is sent upstream to count"


async def test_a_policy_refusal_over_chat_is_an_anthropic_permission_error(
    metered_stack: Stack, shared_upstream: FakeOpenAIServer
) -> None:
    async with AsyncAnthropic(
        base_url=metered_stack.edge_url, api_key=LIMITED_KEY, max_retries=0
    ) as limited:
        with pytest.raises(anthropic.PermissionDeniedError) as refused:
            await limited.messages.create(model="gpt-test", max_tokens=16, messages=HELLO)
    validate_anthropic("ErrorResponse", refused.value.response.json())
    assert shared_upstream.requests == []
