"""Usage of requests served through the whole stack lands in ClickHouse, once each."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import httpx
import orjson
import pytest
from tests.support.analytics import wait_for_usage
from tests.support.fake_openai_server import FakeOpenAIServer, Fault
from tests.support.nats import start_test_nats
from tests.support.openai_schema import validate_openai
from tests.support.stack import Stack

from tollway_common.contract import UsageRow


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
    stack.start_metering(TOLLWAY_METERING_PRICE_CATALOG="true")
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
    # Providers do not charge a failed call: nothing estimated, nothing priced.
    failed_row = rows[ids[0]]
    assert (failed_row.prompt_tokens, failed_row.completion_tokens) == (0, 0)
    assert (failed_row.usage_estimated, Decimal(failed_row.cost)) == (False, Decimal(0))
    # The abandoned stream's usage is an estimate: flagged, its price kept apart from cost.
    abandoned_row = rows[ids[1]]
    assert abandoned_row.usage_estimated is True
    assert Decimal(abandoned_row.cost) == 0
    assert Decimal(abandoned_row.estimated_cost) > 0, "gpt-4o-mini has a catalog price"


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


async def test_nats_killed_mid_stream_bills_what_the_client_got_and_what_was_charged(
    stack: Stack, api_key: str, fake_upstream: FakeOpenAIServer
) -> None:
    """The router finishes the stream and publishes its usage once NATS is back; the client
    got an error event. The row says both: the client's error, the provider's tokens."""
    stack.start_metering()
    fake_upstream.fault = Fault(kind="slow_stream", delay_s=0.05)
    old = stack.nats
    body = {"model": "gpt-test", "messages": [{"role": "user", "content": "hello"}], "stream": True}
    events: list[bytes] = []
    try:
        async with (
            httpx.AsyncClient(base_url=stack.base_url, timeout=60) as client,
            client.stream("POST", "/chat/completions", json=body, headers=_auth(api_key)) as sse,
        ):
            async for line in sse.aiter_lines():
                if line.startswith("data: "):
                    events.append(line[6:].encode())
                    if len(events) == 2:
                        await asyncio.to_thread(old.kill)
                        stack.nats = await asyncio.to_thread(
                            start_test_nats, stack.workdir / "nats", old.credentials, old.port
                        )
        last = orjson.loads(events[-1])
        validate_openai("ErrorResponse", last)
        assert last["error"]["code"] == "router_lost"
        await asyncio.to_thread(fake_upstream.stream_completed.wait, 30)
        request_id = sse.headers["x-request-id"]
        row = await _row_once(stack, request_id, lambda row: bool(row.provider), "router usage")
        assert (row.status_code, row.error_code) == (502, "router_lost")
        assert row.provider == "openai", "the router's event: what the upstream charged"
        assert row.completion_tokens > len(events), "the whole answer was generated"
    finally:
        if stack.nats is not old:
            stack.stop()
            stack.nats.stop()


async def _row_once(
    stack: Stack, request_id: str, ready: Callable[[UsageRow], bool], what: str
) -> UsageRow:
    """The request's row once `ready` holds for it (bounded wait): a second event for a
    request may come some time after the first."""
    for _ in range(300):
        [row] = await wait_for_usage(stack.nats.url_as("test"), [request_id])
        if ready(row):
            return row
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} never arrived: {row}")


async def test_a_request_no_router_answered_is_not_billed_a_prompt(
    stack: Stack, api_key: str
) -> None:
    """A router that never said a word (stopped, then killed): the edge gives up on it and
    meters the request at 0 tokens, since as far as it knows no upstream was called."""
    stack.start_metering()
    stack.start_edge(name="edge-impatient", TOLLWAY_EDGE_IDLE_TIMEOUT_S="2")
    router = next(p for p in stack.processes if p.name == "router")
    os.kill(router.popen.pid, signal.SIGSTOP)
    try:
        body = {"model": "tollway-demo", "messages": [{"role": "user", "content": "hello " * 50}]}
        async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
            response = await client.post("/chat/completions", json=body, headers=_auth(api_key))
    finally:
        router.kill()
    assert response.status_code == 502
    validate_openai("ErrorResponse", response.json())
    [row] = await wait_for_usage(stack.nats.url_as("test"), [response.headers["x-request-id"]])
    assert (row.status_code, row.error_code) == (502, "router_lost")
    assert (row.prompt_tokens, row.completion_tokens, Decimal(row.cost)) == (0, 0, Decimal(0))


async def test_edge_killed_mid_stream_bills_a_cut_not_a_200(
    stack: Stack, api_key: str, fake_upstream: FakeOpenAIServer
) -> None:
    """The router finishes the answer; its `final` finds no edge, so nats-server says "no
    responders" and the router's usage says the client got the answer cut short."""
    stack.start_metering()
    fake_upstream.fault = Fault(kind="slow_stream", delay_s=0.02)
    edge = next(p for p in stack.processes if p.name == "edge")
    body = {"model": "gpt-test", "messages": [{"role": "user", "content": "hello"}], "stream": True}
    request_ids: list[str] = []

    async def read_until_the_edge_dies() -> None:
        async with (
            httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client,
            client.stream("POST", "/chat/completions", json=body, headers=_auth(api_key)) as sse,
        ):
            request_ids.append(sse.headers["x-request-id"])
            async for line in sse.aiter_lines():
                if line.startswith("data: "):
                    edge.kill()

    with pytest.raises(httpx.TransportError):
        await read_until_the_edge_dies()
    [request_id] = request_ids
    assert await asyncio.to_thread(fake_upstream.stream_completed.wait, 30)
    row = await _row_once(stack, request_id, lambda row: row.status_code != 200, "the cut")
    assert (row.status_code, row.error_type, row.error_code) == (499, "client_cut", "edge_lost")
    assert (row.provider, row.usage_estimated) == ("openai", False)
    assert row.completion_tokens > 0, "the provider charged the whole answer"
