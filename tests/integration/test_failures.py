"""Failures between the processes: no router, a router that dies, a client that leaves,
upstreams that refuse or hang. Each ends with the right OpenAI error, never a hang.

A test that stops or kills a process takes a stack of its own; the upstream faults share the
module's, each on a model of its own, because a fault leaves its deployment cooling down or
set aside for the next request."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import orjson
import pytest
from tests.support.configs import gateway_config
from tests.support.fake_openai_server import FakeOpenAIServer, Fault
from tests.support.openai_schema import validate_openai
from tests.support.stack import Stack, open_stack

from tollway_common.control import Deployment, ModelAlias

UPSTREAM_CHAT = {"model": "gpt-test", "messages": [{"role": "user", "content": "hello"}]}
# One alias (and deployment) per upstream fault on the shared stack.
FAULT_MODELS = ("gpt-gone", "gpt-429", "gpt-500", "gpt-401", "gpt-thinking", "gpt-cut")


def _fault_model(alias: str, workdir: Path, upstream: FakeOpenAIServer) -> ModelAlias:
    deployment = Deployment(
        name=f"fake-openai-{alias}",
        provider="openai",
        model="gpt-4o-mini",
        api_base=upstream.base_url,
        api_key=f"file:{workdir / 'secrets' / 'upstream'}",
    )
    return ModelAlias(name=alias, deployments=[deployment])


@pytest.fixture(scope="module")
def module_stack(
    tmp_path_factory: pytest.TempPathFactory, module_upstream: FakeOpenAIServer
) -> Iterator[Stack]:
    """conftest's `module_stack`, with the FAULT_MODELS too."""
    workdir = tmp_path_factory.mktemp("stack")
    with ExitStack() as cleanup:
        stack = open_stack(workdir, cleanup)
        faults = [_fault_model(alias, workdir, module_upstream) for alias in FAULT_MODELS]
        stack.apply(gateway_config(workdir, module_upstream.base_url, extra_models=faults))
        stack.start_router()
        stack.start_edge()
        yield stack


def _on(alias: str, **body: object) -> dict[str, object]:
    return {**UPSTREAM_CHAT, "model": alias, **body}


def _auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def test_no_router_running_is_503_at_once(stack: Stack, api_key: str) -> None:
    router = next(p for p in stack.processes if p.name == "router")
    router.stop()
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=5) as client:
        response = await client.post(
            "/chat/completions", json=UPSTREAM_CHAT, headers=_auth(api_key)
        )
    assert response.status_code == 503
    validate_openai("ErrorResponse", response.json())
    assert response.json()["error"]["code"] == "no_responders"


async def test_router_killed_mid_stream_client_gets_error_event(
    stack: Stack, api_key: str, fake_upstream: FakeOpenAIServer
) -> None:
    fake_upstream.fault = Fault(kind="slow_stream", delay_s=0.1)
    router = next(p for p in stack.processes if p.name == "router")
    events: list[bytes] = []
    async with (
        httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client,
        client.stream(
            "POST",
            "/chat/completions",
            json={**UPSTREAM_CHAT, "stream": True},
            headers=_auth(api_key),
        ) as response,
    ):
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if not line.startswith("data: "):
                continue
            events.append(line[6:].encode())
            if len(events) == 2:
                router.kill()
    last = orjson.loads(events[-1])
    validate_openai("ErrorResponse", last)
    assert last["error"]["code"] == "router_lost"
    for chunk in events[:-1]:
        validate_openai("CreateChatCompletionStreamResponse", orjson.loads(chunk))


async def test_client_disconnect_cancels_the_upstream_request(
    shared_stack: Stack, api_key: str, shared_upstream: FakeOpenAIServer
) -> None:
    shared_upstream.fault = Fault(kind="slow_stream", delay_s=0.1)
    async with (
        httpx.AsyncClient(base_url=shared_stack.base_url, timeout=30) as client,
        client.stream(
            "POST",
            "/chat/completions",
            json=_on("gpt-gone", stream=True),
            headers=_auth(api_key),
        ) as response,
    ):
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                break
    cancelled = await asyncio.to_thread(shared_upstream.stream_cancelled.wait, 10)
    assert cancelled, "the upstream stream was not closed after the client left"


async def test_upstream_429_is_429_with_its_retry_after(
    shared_stack: Stack, api_key: str, shared_upstream: FakeOpenAIServer
) -> None:
    shared_upstream.fault = Fault(
        kind="status",
        status=429,
        headers={"retry-after": "7"},
        body={
            "error": {
                "message": "Rate limit reached",
                "type": "requests",
                "code": "rate_limit_exceeded",
                "param": None,
            }
        },
    )
    async with httpx.AsyncClient(base_url=shared_stack.base_url) as client:
        response = await client.post(
            "/chat/completions", json=_on("gpt-429"), headers=_auth(api_key)
        )
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    validate_openai("ErrorResponse", response.json())
    assert response.json()["error"]["code"] == "upstream_rate_limited"


async def test_upstream_500_is_502(
    shared_stack: Stack, api_key: str, shared_upstream: FakeOpenAIServer
) -> None:
    shared_upstream.fault = Fault(
        kind="status",
        status=500,
        body={
            "error": {
                "message": "The server had an error",
                "type": "server_error",
                "code": None,
                "param": None,
            }
        },
    )
    async with httpx.AsyncClient(base_url=shared_stack.base_url) as client:
        response = await client.post(
            "/chat/completions", json=_on("gpt-500", stream=True), headers=_auth(api_key)
        )
    assert response.status_code == 502
    validate_openai("ErrorResponse", response.json())
    assert response.json()["error"]["code"] == "upstream_error"


async def test_upstream_rejecting_our_secret_is_502_not_401(
    shared_stack: Stack, api_key: str, shared_upstream: FakeOpenAIServer
) -> None:
    shared_upstream.fault = Fault(
        kind="status",
        status=401,
        body={
            "error": {
                "message": "Incorrect API key provided: sk-ups***",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
                "param": None,
            }
        },
    )
    async with httpx.AsyncClient(base_url=shared_stack.base_url) as client:
        response = await client.post(
            "/chat/completions", json=_on("gpt-401"), headers=_auth(api_key)
        )
    assert response.status_code == 502
    assert response.headers["x-should-retry"] == "false"
    assert response.json()["error"]["code"] == "upstream_auth_failed"
    assert "sk-ups" not in response.text


async def test_upstream_that_hangs_is_504(
    shared_stack: Stack, api_key: str, shared_upstream: FakeOpenAIServer
) -> None:
    shared_upstream.fault = Fault(kind="hang")
    async with httpx.AsyncClient(base_url=shared_stack.base_url, timeout=30) as client:
        response = await client.post(
            "/chat/completions",
            json=_on("gpt-impatient"),
            headers=_auth(api_key),
        )
    assert response.status_code == 504
    validate_openai("ErrorResponse", response.json())
    assert response.json()["error"]["code"] == "upstream_timeout"


async def test_heartbeats_keep_a_request_alive_while_the_upstream_thinks(
    shared_stack: Stack, api_key: str, shared_upstream: FakeOpenAIServer
) -> None:
    # Silent for longer than the edge's idle timeout (2 s here): only the router's
    # heartbeats tell the edge this request is still being served.
    shared_upstream.fault = Fault(kind="slow_start", delay_s=3.5)
    async with httpx.AsyncClient(base_url=shared_stack.base_url, timeout=30) as client:
        response = await client.post(
            "/chat/completions", json=_on("gpt-thinking"), headers=_auth(api_key)
        )
    assert response.status_code == 200, response.text
    validate_openai("CreateChatCompletionResponse", response.json())


async def test_router_sigterm_finishes_in_flight_stream(
    stack: Stack, api_key: str, fake_upstream: FakeOpenAIServer
) -> None:
    fake_upstream.fault = Fault(kind="slow_stream", delay_s=0.05)
    router = next(p for p in stack.processes if p.name == "router")
    payloads: list[str] = []
    async with (
        httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client,
        client.stream(
            "POST",
            "/chat/completions",
            json={**UPSTREAM_CHAT, "stream": True},
            headers=_auth(api_key),
        ) as response,
    ):
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                payloads.append(line[6:])
                if len(payloads) == 1:
                    router.popen.terminate()
    assert payloads[-1] == "[DONE]"
    assert await asyncio.to_thread(router.popen.wait, 30) == 0


async def test_upstream_stream_cut_short_ends_with_an_error_not_done(
    shared_stack: Stack, api_key: str, shared_upstream: FakeOpenAIServer
) -> None:
    shared_upstream.fault = Fault(kind="truncated_stream")
    async with httpx.AsyncClient(base_url=shared_stack.base_url, timeout=30) as client:
        response = await client.post(
            "/chat/completions", json=_on("gpt-cut", stream=True), headers=_auth(api_key)
        )
    payloads = [line[6:] for line in response.text.split("\n") if line.startswith("data: ")]
    assert "[DONE]" not in payloads, "a cut-short answer must never look complete"
    last = orjson.loads(payloads[-1])
    validate_openai("ErrorResponse", last)
    assert last["error"]["code"] == "upstream_error"


async def test_edge_losing_nats_mid_stream_ends_the_stream_at_once(
    stack: Stack, api_key: str, fake_upstream: FakeOpenAIServer
) -> None:
    # The idle timeout is far longer than the client will wait: only the edge's reaction to
    # its own disconnect can end this stream in time.
    stack.start_edge(TOLLWAY_EDGE_IDLE_TIMEOUT_S="120")
    fake_upstream.fault = Fault(kind="slow_stream", delay_s=0.1)
    events: list[bytes] = []
    async with (
        httpx.AsyncClient(base_url=stack.base_url, timeout=20) as client,
        client.stream(
            "POST",
            "/chat/completions",
            json={**UPSTREAM_CHAT, "stream": True},
            headers=_auth(api_key),
        ) as response,
    ):
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                events.append(line[6:].encode())
                if len(events) == 2:
                    stack.nats.kill()
    last = orjson.loads(events[-1])
    validate_openai("ErrorResponse", last)
    assert last["error"]["code"] == "router_lost"
