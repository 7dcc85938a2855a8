"""Anthropic Messages requests served by deployments that speak only chat: the router's handler
in the test's process (tests/support/router_harness.py) with a real nats-server, in front of a
fake OpenAI server, a fake Azure OpenAI resource and the in-process demo provider. Each fake
checks the chat request it receives against OpenAI's spec; every reply the edge would relay is
checked against Anthropic's spec and read by the anthropic SDK; usage is metered as for chat."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from anthropic.types import Message
from tests.support.anthropic_schema import validate_anthropic
from tests.support.fake_azure_openai_server import FakeAzureOpenAIServer
from tests.support.fake_openai_server import FakeOpenAIServer, Fault
from tests.support.messages_over_chat import events_of, facts_of, sdk_final_message
from tests.support.router_harness import InProcessRouter, Served, in_process_router

from tollway_cli.servers import NatsServer
from tollway_common.contract import Endpoint
from tollway_common.control import Deployment, ModelAlias
from tollway_router.providers.adapter import ChunkOut
from tollway_router.upstream import demo_server

AZURE_KEY = "azure-key-for-messages-0123456789"
AZURE_DEPLOYMENT = "gpt-4o-prod"
ASK: dict[str, Any] = {
    "max_tokens": 200,
    "system": "Be brief.",
    "messages": [{"role": "user", "content": "Weather in Oslo?"}],
}
TOOLS = {
    **ASK,
    "tools": [
        {
            "name": "get_weather",
            "description": "Weather for a city",
            "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}},
        }
    ],
}


@pytest.fixture
def azure(tmp_path: Path) -> Iterator[FakeAzureOpenAIServer]:
    with FakeAzureOpenAIServer(frozenset({AZURE_DEPLOYMENT}), AZURE_KEY) as server:
        yield server


@pytest.fixture
async def router(
    nats_server: NatsServer,
    fake_upstream: FakeOpenAIServer,
    azure: FakeAzureOpenAIServer,
    tmp_path: Path,
) -> AsyncIterator[InProcessRouter]:
    key_file = tmp_path / "azure-key"
    key_file.write_text(AZURE_KEY)

    def alias(alias: str, **deployment: Any) -> ModelAlias:
        return ModelAlias(name=alias, deployments=[Deployment.model_validate(deployment)])

    models = [
        alias(
            "gpt", name="oai", provider="openai", model="gpt-4o", api_base=fake_upstream.base_url
        ),
        alias(
            "azure",
            name="az",
            provider="azure_openai",
            model="gpt-4o",
            azure_deployment=AZURE_DEPLOYMENT,
            api_base=azure.url,
            api_key=f"file:{key_file}",
        ),
        alias("demo", name="demo", provider="fake", model=demo_server.MODELS[0]),
    ]
    async with in_process_router(nats_server, models) as serving:
        yield serving


async def _serve(router: InProcessRouter, alias: str, body: dict[str, Any]) -> Served:
    request = {"model": alias, **body}
    return await router.serve(alias, request, Endpoint.MESSAGES, facts=facts_of(request))


def _message(served: Served) -> dict[str, Any]:
    assert served.error is None, served.error
    [body] = served.chunks
    message: dict[str, Any] = orjson.loads(body)
    validate_anthropic("Message", message)
    Message.model_validate(message)
    return message


def _stream(served: Served) -> Message:
    assert served.error is None, served.error
    chunks = [ChunkOut(data) for data in served.chunks]
    kinds = [kind for kind, _ in events_of(chunks)]
    assert kinds[:2] == ["message_start", "ping"]
    assert kinds[-2:] == ["message_delta", "message_stop"]
    return sdk_final_message(chunks)


def _metered_like_the_answer(served: Served, output_tokens: int) -> None:
    usage = served.usage
    assert usage.endpoint is Endpoint.MESSAGES
    assert (usage.status_code, usage.usage_estimated) == (200, False)
    assert usage.completion_tokens == output_tokens > 0
    assert usage.prompt_tokens > 0
    assert served.final is not None
    assert served.final.usage is not None
    assert served.final.usage.completion_tokens == output_tokens


@pytest.mark.proves("messages_response", "openai")
@pytest.mark.proves("messages_system", "openai")
async def test_an_openai_deployment_answers_a_message(
    router: InProcessRouter, fake_upstream: FakeOpenAIServer
) -> None:
    served = await _serve(router, "gpt", ASK)
    message = _message(served)
    assert message["content"] == [
        {"type": "text", "text": f"{demo_server.GREETING} Weather in Oslo?"}
    ]
    assert message["stop_reason"] == "end_turn"
    _metered_like_the_answer(served, message["usage"]["output_tokens"])
    [sent] = fake_upstream.requests
    assert sent.path == "/v1/chat/completions"
    assert sent.json["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sent.json["max_completion_tokens"] == 200


@pytest.mark.proves("messages_stream", "openai")
@pytest.mark.proves("messages_stream_usage", "openai")
async def test_an_openai_deployment_streams_a_message_metered_exactly(
    router: InProcessRouter, fake_upstream: FakeOpenAIServer
) -> None:
    served = await _serve(router, "gpt", {**ASK, "stream": True})
    final = _stream(served)
    assert final.content[0].type == "text"
    assert final.content[0].text == f"{demo_server.GREETING} Weather in Oslo?"
    assert final.usage.input_tokens == served.usage.prompt_tokens
    _metered_like_the_answer(served, final.usage.output_tokens)
    [sent] = fake_upstream.requests
    assert sent.json["stream_options"] == {"include_usage": True}


@pytest.mark.proves("messages_stream_tools", "openai")
async def test_an_openai_deployment_streams_a_tool_call(router: InProcessRouter) -> None:
    final = _stream(await _serve(router, "gpt", {**TOOLS, "stream": True}))
    [tool] = final.content
    assert tool.type == "tool_use"
    assert (tool.name, tool.input) == ("get_weather", {"query": "Weather in Oslo?"})
    assert final.stop_reason == "tool_use"


@pytest.mark.proves("messages_stream", "azure_openai")
@pytest.mark.proves("messages_stream_usage", "azure_openai")
async def test_an_azure_deployment_streams_a_message(
    router: InProcessRouter, azure: FakeAzureOpenAIServer
) -> None:
    served = await _serve(router, "azure", {**ASK, "stream": True})
    final = _stream(served)
    assert final.content[0].type == "text"
    _metered_like_the_answer(served, final.usage.output_tokens)
    [sent] = azure.requests
    assert sent.path == f"/openai/deployments/{AZURE_DEPLOYMENT}/chat/completions"
    assert sent.headers["api-key"] == AZURE_KEY


@pytest.mark.proves("messages_response", "azure_openai")
@pytest.mark.proves("messages_tool_round_trip", "azure_openai")
async def test_an_azure_deployment_answers_a_tool_call_with_its_input(
    router: InProcessRouter,
) -> None:
    message = _message(await _serve(router, "azure", TOOLS))
    [tool] = message["content"]
    assert (tool["type"], tool["input"]) == ("tool_use", {"query": "Weather in Oslo?"})
    assert message["stop_reason"] == "tool_use"


@pytest.mark.proves("messages_response", "fake")
@pytest.mark.proves("messages_tool_round_trip", "fake")
async def test_the_demo_model_answers_a_message_and_a_tool_round_trip(
    router: InProcessRouter,
) -> None:
    first = _message(await _serve(router, "demo", TOOLS))
    [call] = first["content"]
    assert call["type"] == "tool_use"
    follow_up = {
        **TOOLS,
        "messages": [
            *TOOLS["messages"],
            {"role": "assistant", "content": first["content"]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": "4 C"}],
            },
        ],
    }
    second = _message(await _serve(router, "demo", follow_up))
    # The demo model answers a tool result by echoing the last user text.
    text = f"{demo_server.GREETING} Weather in Oslo?"
    assert second["content"] == [{"type": "text", "text": text}]


@pytest.mark.proves("messages_stream", "fake")
@pytest.mark.proves("messages_stream_usage", "fake")
async def test_the_demo_model_streams_a_message(router: InProcessRouter) -> None:
    served = await _serve(router, "demo", {**ASK, "stream": True, "max_tokens": 3})
    final = _stream(served)
    assert final.content[0].type == "text"
    assert final.content[0].text == " ".join(demo_server.GREETING.split()[:3])
    assert final.stop_reason == "max_tokens"
    _metered_like_the_answer(served, 3)


@pytest.mark.proves("messages_refused", "openai")
async def test_a_server_tool_is_refused_before_any_upstream_call(
    router: InProcessRouter, fake_upstream: FakeOpenAIServer
) -> None:
    body = {**ASK, "tools": [{"type": "web_search_20250305", "name": "web_search"}]}
    served = await _serve(router, "gpt", body)
    assert served.error is not None
    assert (served.error.status, served.error.error.type) == (400, "invalid_request_error")
    assert served.error.error.param == "tools[0].type"
    assert fake_upstream.requests == []
    assert (served.usage.status_code, served.usage.endpoint) == (400, Endpoint.MESSAGES)


async def test_an_upstream_error_is_an_error_reply_as_for_chat(
    router: InProcessRouter, fake_upstream: FakeOpenAIServer
) -> None:
    fake_upstream.fault = Fault(kind="status", status=400)
    served = await _serve(router, "gpt", ASK)
    assert served.chunks == []
    assert served.error is not None
    assert served.error.status == 400
