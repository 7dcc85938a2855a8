"""One request through edge -> NATS -> router -> provider and back, stream and not."""

from __future__ import annotations

from typing import Any

import httpx
import nats
import orjson
from nats.aio.msg import Msg
from openai import AsyncOpenAI
from tests.support.configs import LIMITED_KEY, UPSTREAM_SECRET
from tests.support.fake_openai_server import FakeOpenAIServer, Fault
from tests.support.openai_schema import validate_openai
from tests.support.stack import Stack

from tollway_common import contract

CHAT = {"model": "tollway-demo", "messages": [{"role": "user", "content": "Hi there"}]}


def _auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def _sse_payloads(text: str) -> list[str]:
    return [line[len("data: ") :] for line in text.split("\n") if line.startswith("data: ")]


async def test_chat_completion_returns_an_openai_shaped_body(
    shared_stack: Stack, api_key: str
) -> None:
    async with httpx.AsyncClient(base_url=shared_stack.base_url) as client:
        response = await client.post("/chat/completions", json=CHAT, headers=_auth(api_key))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"]
    body = response.json()
    validate_openai("CreateChatCompletionResponse", body)
    assert body["choices"][0]["message"]["content"]
    assert body["usage"]["total_tokens"] > 0


async def test_streamed_chat_completion_sends_chunks_then_done(
    shared_stack: Stack, api_key: str
) -> None:
    async with httpx.AsyncClient(base_url=shared_stack.base_url) as client:
        response = await client.post(
            "/chat/completions", json={**CHAT, "stream": True}, headers=_auth(api_key)
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    payloads = _sse_payloads(response.text)
    assert payloads[-1] == "[DONE]"
    chunks = [orjson.loads(p) for p in payloads[:-1]]
    for chunk in chunks:
        validate_openai("CreateChatCompletionStreamResponse", chunk)
    assert all(chunk["choices"] for chunk in chunks), "no usage chunk unless the client asks"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert "Hi there" in text


async def test_stream_events_that_arrive_together_reach_the_sdk_whole_and_in_order(
    shared_stack: Stack, shared_upstream: FakeOpenAIServer, api_key: str
) -> None:
    """The upstream sends its whole stream in one write: the router relays its chunks as one
    `chunks` reply, and the client still gets every chunk, in order, then the end."""
    kinds: list[str] = []

    async def watch(msg: Msg) -> None:
        kinds.append((msg.headers or {}).get(contract.HEADER_KIND, ""))

    watcher = await nats.connect(shared_stack.nats.url_as("test"))
    await watcher.subscribe(f"{contract.reply_inbox_prefix('*')}.*", cb=watch)
    await watcher.flush()
    shared_upstream.fault = Fault(kind="burst_stream", times=1)
    client = AsyncOpenAI(base_url=shared_stack.base_url, api_key=api_key, max_retries=0)
    try:
        stream = await client.chat.completions.create(
            model="gpt-test",
            messages=[{"role": "user", "content": "Hi there"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
        await watcher.flush()
    finally:
        await client.close()
        await watcher.close()
    for chunk in chunks:
        validate_openai("CreateChatCompletionStreamResponse", chunk.to_dict())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "Hi there" in text
    assert chunks[-1].usage is not None, "usage last, as asked"
    assert not chunks[-1].choices
    assert contract.ReplyKind.CHUNKS.value in kinds, kinds
    assert contract.ReplyKind.CHUNK.value not in kinds, "all of the burst in one message"


async def test_stream_usage_chunk_only_when_client_asks(shared_stack: Stack, api_key: str) -> None:
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    async with httpx.AsyncClient(base_url=shared_stack.base_url) as client:
        response = await client.post("/chat/completions", json=body, headers=_auth(api_key))
    chunks = [orjson.loads(p) for p in _sse_payloads(response.text)[:-1]]
    usage_chunks = [c for c in chunks if not c["choices"]]
    assert len(usage_chunks) == 1
    assert usage_chunks[0]["usage"]["completion_tokens"] > 0


async def test_openai_upstream_gets_the_deployment_model_secret_and_usage_request(
    shared_stack: Stack, api_key: str, shared_upstream: FakeOpenAIServer
) -> None:
    body = {"model": "gpt-test", "messages": [{"role": "user", "content": "hello"}], "stream": True}
    async with httpx.AsyncClient(base_url=shared_stack.base_url) as client:
        response = await client.post("/chat/completions", json=body, headers=_auth(api_key))
    assert response.status_code == 200
    [sent] = shared_upstream.requests
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {UPSTREAM_SECRET}"
    assert sent.json["model"] == "gpt-4o-mini"
    assert sent.json["stream_options"] == {"include_usage": True}
    chunks = [orjson.loads(p) for p in _sse_payloads(response.text)[:-1]]
    assert all(chunk["choices"] for chunk in chunks)


async def test_legacy_completions_and_embeddings_pass_through(
    shared_stack: Stack, api_key: str
) -> None:
    async with httpx.AsyncClient(base_url=shared_stack.base_url) as client:
        completion = await client.post(
            "/completions",
            json={"model": "gpt-test", "prompt": "Say hi", "max_tokens": 5},
            headers=_auth(api_key),
        )
        embedding = await client.post(
            "/embeddings",
            json={"model": "gpt-test", "input": ["a", "b"]},
            headers=_auth(api_key),
        )
    assert completion.status_code == 200, completion.text
    validate_openai("CreateCompletionResponse", completion.json())
    assert embedding.status_code == 200, embedding.text
    validate_openai("CreateEmbeddingResponse", embedding.json())
    assert len(embedding.json()["data"]) == 2


async def test_models_lists_only_what_the_key_may_use(shared_stack: Stack, api_key: str) -> None:
    async with httpx.AsyncClient(base_url=shared_stack.base_url) as client:
        everything = await client.get("/models", headers=_auth(api_key))
        limited = await client.get("/models", headers=_auth(LIMITED_KEY))
    validate_openai("ListModelsResponse", everything.json())
    assert {m["id"] for m in everything.json()["data"]} == {
        "tollway-demo",
        "gpt-test",
        "gpt-impatient",
    }
    assert [m["id"] for m in limited.json()["data"]] == ["tollway-demo"]


async def test_tools_pass_through_to_the_upstream(
    shared_stack: Stack, api_key: str, shared_upstream: FakeOpenAIServer
) -> None:
    tools: list[dict[str, Any]] = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    body = {"model": "gpt-test", "messages": [{"role": "user", "content": "Oslo?"}], "tools": tools}
    async with httpx.AsyncClient(base_url=shared_stack.base_url) as client:
        response = await client.post("/chat/completions", json=body, headers=_auth(api_key))
    validate_openai("CreateChatCompletionResponse", response.json())
    assert shared_upstream.requests[0].json["tools"] == tools
    assert response.json()["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == (
        "get_weather"
    )
