"""The official openai SDK, unchanged, against a running Tollway."""

from __future__ import annotations

import openai
import pytest
from openai import AsyncOpenAI
from tests.support.fake_openai_server import FakeOpenAIServer, Fault
from tests.support.openai_schema import validate_openai
from tests.support.stack import Stack

MESSAGES: list[openai.types.chat.ChatCompletionMessageParam] = [
    {"role": "user", "content": "What is Tollway?"}
]


def _client(stack: Stack, key: str) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=stack.base_url, api_key=key, max_retries=0)


async def test_chat_completion(shared_stack: Stack, api_key: str) -> None:
    async with _client(shared_stack, api_key) as client:
        completion = await client.chat.completions.create(model="tollway-demo", messages=MESSAGES)
    validate_openai("CreateChatCompletionResponse", completion.model_dump(exclude_unset=True))
    assert completion.choices[0].message.content
    assert completion.usage is not None
    assert completion.usage.total_tokens > 0


async def test_streamed_chat_completion_with_usage(shared_stack: Stack, api_key: str) -> None:
    async with _client(shared_stack, api_key) as client:
        stream = await client.chat.completions.create(
            model="tollway-demo",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "What is Tollway?" in text
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0


async def test_models_list(shared_stack: Stack, api_key: str) -> None:
    async with _client(shared_stack, api_key) as client:
        models = [model.id async for model in client.models.list()]
    assert "tollway-demo" in models


async def test_tool_calls_pass_through(shared_stack: Stack, api_key: str) -> None:
    async with _client(shared_stack, api_key) as client:
        completion = await client.chat.completions.create(
            model="gpt-test",
            messages=MESSAGES,
            tools=[
                {
                    "type": "function",
                    "function": {
                        "name": "lookup",
                        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
                    },
                }
            ],
        )
    calls = completion.choices[0].message.tool_calls
    assert calls is not None
    assert calls[0].type == "function"
    assert calls[0].function.name == "lookup"
    assert completion.choices[0].finish_reason == "tool_calls"


async def test_bad_key_raises_authentication_error(shared_stack: Stack) -> None:
    async with _client(shared_stack, "sk-wrong-key-000000000000") as client:
        with pytest.raises(openai.AuthenticationError):
            await client.chat.completions.create(model="tollway-demo", messages=MESSAGES)


async def test_unknown_model_raises_not_found(shared_stack: Stack, api_key: str) -> None:
    async with _client(shared_stack, api_key) as client:
        with pytest.raises(openai.NotFoundError) as raised:
            await client.chat.completions.create(model="gpt-nope", messages=MESSAGES)
    assert raised.value.code == "model_not_found"


async def test_bad_request_raises_bad_request_error(shared_stack: Stack, api_key: str) -> None:
    async with _client(shared_stack, api_key) as client:
        with pytest.raises(openai.BadRequestError) as raised:
            await client.chat.completions.create(model="tollway-demo", messages=[])
    assert raised.value.param == "messages"


async def test_upstream_rate_limit_raises_rate_limit_error(
    stack: Stack, api_key: str, fake_upstream: FakeOpenAIServer
) -> None:
    fake_upstream.fault = Fault(kind="status", status=429, headers={"retry-after": "1"})
    async with _client(stack, api_key) as client:
        with pytest.raises(openai.RateLimitError):
            await client.chat.completions.create(model="gpt-test", messages=MESSAGES)


async def test_upstream_failure_raises_internal_server_error(
    stack: Stack, api_key: str, fake_upstream: FakeOpenAIServer
) -> None:
    fake_upstream.fault = Fault(kind="status", status=503)
    async with _client(stack, api_key) as client:
        with pytest.raises(openai.InternalServerError) as raised:
            await client.chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True)
    assert raised.value.status_code == 502
