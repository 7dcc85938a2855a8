"""Usage of requests served through the whole stack lands in ClickHouse, once each."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
from tests.support.analytics import wait_for_usage
from tests.support.fake_openai_server import FakeOpenAIServer, Fault
from tests.support.stack import Stack


def _auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def test_every_request_has_one_usage_row_with_its_tokens(stack: Stack, api_key: str) -> None:
    stack.start_metering()
    body = {"model": "tollway-demo", "messages": [{"role": "user", "content": "count me"}]}
    async with httpx.AsyncClient(base_url=stack.base_url) as client:
        plain = await client.post("/chat/completions", json=body, headers=_auth(api_key))
        streamed = await client.post(
            "/chat/completions", json={**body, "stream": True}, headers=_auth(api_key)
        )
    ids = [plain.headers["x-request-id"], streamed.headers["x-request-id"]]
    rows = await wait_for_usage(stack.nats.url_as("test"), ids)
    assert Counter(row.request_id for row in rows) == {ids[0]: 1, ids[1]: 1}
    by_id = {row.request_id: row for row in rows}
    usage = plain.json()["usage"]
    assert by_id[ids[0]].prompt_tokens == usage["prompt_tokens"]
    assert by_id[ids[0]].completion_tokens == usage["completion_tokens"]
    assert by_id[ids[0]].stream is False
    assert by_id[ids[1]].stream is True
    assert by_id[ids[1]].completion_tokens > 0, "streams are never counted at zero"
    assert by_id[ids[1]].ttft_ms is not None
    assert {row.model_alias for row in rows} == {"tollway-demo"}
    assert {row.provider for row in rows} == {"fake"}
    assert {row.status_code for row in rows} == {200}


async def test_failed_and_abandoned_requests_are_metered_too(
    stack: Stack, api_key: str, fake_upstream: FakeOpenAIServer
) -> None:
    stack.start_metering()
    body = {"model": "gpt-test", "messages": [{"role": "user", "content": "hello"}]}
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        fake_upstream.fault = Fault(kind="status", status=500)
        failed = await client.post("/chat/completions", json=body, headers=_auth(api_key))
        fake_upstream.fault = Fault(kind="slow_stream", delay_s=0.1)
        async with client.stream(
            "POST", "/chat/completions", json={**body, "stream": True}, headers=_auth(api_key)
        ) as abandoned:
            async for line in abandoned.aiter_lines():
                if line.startswith("data: "):
                    break
    await asyncio.to_thread(fake_upstream.stream_cancelled.wait, 10)
    ids = [failed.headers["x-request-id"], abandoned.headers["x-request-id"]]
    rows = {row.request_id: row for row in await wait_for_usage(stack.nats.url_as("test"), ids)}
    assert rows[ids[0]].status_code == 502
    assert rows[ids[0]].error_type == "server_error"
    assert rows[ids[1]].status_code == 499
    assert rows[ids[1]].prompt_tokens > 0, "an abandoned request still pays for its prompt"


async def test_router_killed_mid_stream_is_metered_once_as_an_estimate(
    stack: Stack, api_key: str, fake_upstream: FakeOpenAIServer
) -> None:
    stack.start_metering()
    fake_upstream.fault = Fault(kind="slow_stream", delay_s=0.1)
    router = next(p for p in stack.processes if p.name == "router")
    body = {"model": "gpt-test", "messages": [{"role": "user", "content": "hello"}], "stream": True}
    seen = 0
    async with (
        httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client,
        client.stream("POST", "/chat/completions", json=body, headers=_auth(api_key)) as response,
    ):
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                seen += 1
                if seen == 3:
                    router.kill()
    request_id = response.headers["x-request-id"]
    [row] = await wait_for_usage(stack.nats.url_as("test"), [request_id])
    assert row.status_code == 502
    assert row.usage_estimated is True
    assert row.completion_tokens >= 3
