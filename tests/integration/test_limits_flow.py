"""Rate limits, concurrency limits and budgets through two edge processes at once, against a
real Redis: what is admitted never exceeds a limit, refunds settle to the real usage, refusals
are OpenAI-shaped 429s with the headers clients read, and budget alerts reach a webhook.

Most tests share one stack, each with a slot of its own: model aliases named for it, and its
own keys, budgets and prices, so no limit, spend or cooled-down deployment reaches another
test. The alerts test (admin counts every alert it receives) and the one that kills Redis
take a stack of their own.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tests.support.configs import TEST_KEY, gateway_config
from tests.support.fake_openai_server import FakeOpenAIServer, Fault
from tests.support.openai_schema import validate_openai
from tests.support.polling import eventually
from tests.support.stack import Stack, open_stack
from tests.support.threaded_server import ThreadedServer

from tollway_common import contract
from tollway_common.control import Deployment, ModelAlias, Price
from tollway_common.pricing import cost_of, to_micro_units

ADMIN_TOKEN = "tw-admin-limits-test-0123456789"


class Limits:
    """One test's view of a stack: its two edges, admin, and the aliases it may use: `demo`
    (the demo provider) and `upstream` (the fake OpenAI upstream)."""

    probe: httpx.Response  # the last request `key` sent

    def __init__(
        self, stack: Stack, admin_url: str, edge_urls: list[str], prefix: str = ""
    ) -> None:
        self.stack = stack
        self.demo = f"{prefix}tollway-demo"
        self.upstream = f"{prefix}gpt-test"
        # A dollar per thousand tokens, so every request has a visible cost.
        self.price = Price(
            model=self.demo, input_per_mtok=Decimal(1000), output_per_mtok=Decimal(1000)
        )
        self.admin = httpx.AsyncClient(
            base_url=admin_url, headers={"authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        self.edges = [httpx.AsyncClient(base_url=f"{url}/v1", timeout=30) for url in edge_urls]

    def chat(self, model: str | None = None, **extra: Any) -> dict[str, Any]:
        content = [{"role": "user", "content": "hi"}]
        return {"model": model or self.demo, "messages": content, **extra}

    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.admin.post(path, json=body)
        assert response.status_code == 201, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def key(self, **body: Any) -> str:
        issued = await self.create("/api/v1/keys", {"name": "limited-app", **body})
        secret: str = issued["key"]
        for _ in range(50):  # until the edges know it (they do within a second)
            self.probe = await self.post(0, secret, self.chat(max_tokens=1))
            if self.probe.status_code != 401:
                return secret
            await asyncio.sleep(0.02)
        raise AssertionError("the new key never reached the edge")

    async def post(self, edge: int, key: str, body: dict[str, Any]) -> httpx.Response:
        return await self.edges[edge % 2].post(
            "/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}
        )

    async def burst(self, key: str, count: int, body: dict[str, Any]) -> list[httpx.Response]:
        return list(await asyncio.gather(*(self.post(i, key, body) for i in range(count))))

    async def close(self) -> None:
        await self.admin.aclose()
        for edge in self.edges:
            await edge.aclose()


def _slot_models(prefix: str, upstream_base_url: str, secrets: Path) -> list[ModelAlias]:
    """A test's own aliases, with deployments of their own (a fault cools only these down)."""
    return [
        ModelAlias(
            name=f"{prefix}tollway-demo",
            deployments=[Deployment(name=f"{prefix}demo-fake", provider="fake", model="demo-1")],
        ),
        ModelAlias(
            name=f"{prefix}gpt-test",
            deployments=[
                Deployment(
                    name=f"{prefix}fake-openai",
                    provider="openai",
                    model="gpt-4o-mini",
                    api_base=upstream_base_url,
                    api_key=f"file:{secrets / 'upstream'}",
                )
            ],
        ),
    ]


@pytest.fixture(scope="module")
def limits_slots(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    module_upstream: FakeOpenAIServer,
) -> Iterator[list[Limits]]:
    """One stack (router, two edges, admin) with a slot for each test that asks for `limits`;
    each test takes the next unused one."""
    wanted = [
        item
        for item in request.session.items
        if isinstance(item, pytest.Function)
        and item.module is request.module
        and "limits" in item.fixturenames
    ]
    workdir = tmp_path_factory.mktemp("limits")
    with ExitStack() as cleanup:
        stack = open_stack(workdir, cleanup)
        config = gateway_config(workdir, module_upstream.base_url)
        prefixes = [f"t{index}-" for index in range(len(wanted))]
        models = [*config.models]
        for prefix in prefixes:
            models += _slot_models(prefix, module_upstream.base_url, workdir / "secrets")
        stack.apply(config.model_copy(update={"models": models}))
        stack.start_router()
        stack.start_edge()
        first = stack.edge_url
        stack.start_edge(name="edge-2")
        admin_url = stack.start_admin(ADMIN_TOKEN)
        yield [Limits(stack, admin_url, [first, stack.edge_url], prefix) for prefix in prefixes]


@pytest.fixture
async def limits(
    limits_slots: list[Limits], shared_upstream: FakeOpenAIServer
) -> AsyncIterator[Limits]:
    slot = limits_slots.pop(0)
    yield slot
    await slot.close()


@pytest.fixture
async def own_limits(stack: Stack) -> AsyncIterator[Limits]:
    """Two edges and admin on a stack of this test's own."""
    first = stack.edge_url
    stack.start_edge(name="edge-2")
    admin_url = stack.start_admin(ADMIN_TOKEN)
    both = Limits(stack, admin_url, [first, stack.edge_url])
    yield both
    await both.close()


def _refused(response: httpx.Response, code: str) -> dict[str, Any]:
    assert response.status_code == 429, response.text
    body: dict[str, Any] = response.json()
    validate_openai("ErrorResponse", body)
    assert body["error"]["code"] == code
    if code == "rate_limit_exceeded":
        assert int(response.headers["retry-after"]) >= 1
    return body


async def test_requests_per_minute_hold_exactly_across_two_edges(limits: Limits) -> None:
    key = await limits.key(limits={"rpm": 10})  # the probe in key() used one request
    responses = await limits.burst(key, 30, limits.chat())
    admitted = [r for r in responses if r.status_code == 200]
    assert len(admitted) == 9
    for response in admitted:
        assert response.headers["x-ratelimit-limit-requests"] == "10"
        assert int(response.headers["x-ratelimit-remaining-requests"]) < 10
    refused = [r for r in responses if r.status_code != 200]
    for response in refused:
        body = _refused(response, "rate_limit_exceeded")
        assert "key" in body["error"]["message"]
        assert response.headers["x-ratelimit-remaining-requests"] == "0"


async def test_tokens_are_reserved_then_refunded_to_the_real_usage(
    limits: Limits, shared_upstream: FakeOpenAIServer
) -> None:
    key = await limits.key(limits={"tpm": 1000})
    # An upstream that never answers keeps reservations open: each request reserves its prompt
    # estimate plus max_tokens=400, so two fit in the minute's 1000 tokens and four do not.
    shared_upstream.fault = Fault("hang")
    body = limits.chat(limits.upstream, max_tokens=400)
    clients = [httpx.AsyncClient(base_url=edge.base_url, timeout=1.5) for edge in limits.edges]
    try:
        outcomes = await asyncio.gather(
            *(
                clients[i % 2].post(
                    "/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}
                )
                for i in range(6)
            ),
            return_exceptions=True,
        )
    finally:
        for client in clients:
            await client.aclose()
    timed_out = [o for o in outcomes if isinstance(o, httpx.TimeoutException)]
    refused = [o for o in outcomes if isinstance(o, httpx.Response)]
    assert len(timed_out) == 2, outcomes
    for response in refused:
        _refused(response, "rate_limit_exceeded")
        assert response.headers["x-ratelimit-limit-tokens"] == "1000"
    # The abandoned requests settle on what they used (their prompts), returning the rest.
    shared_upstream.fault = None
    for attempt in range(40):
        response = await limits.post(attempt, key, limits.chat(max_tokens=400))
        if response.status_code == 200:
            break
        await asyncio.sleep(0.05)
    assert response.status_code == 200, response.text
    assert int(response.headers["x-ratelimit-remaining-tokens"]) > 0


async def _spent_micro(redis_url: str, budget_id: str) -> dict[str, int]:
    """What each period of the budget `budget_id` has spent, by its Redis key."""
    redis = Redis.from_url(redis_url)
    try:
        return {
            key.decode(): int(await redis.get(key) or 0)
            async for key in redis.scan_iter(match=f"tw:*:bud:{budget_id}:*")
            if key.decode().rsplit(":", 1)[-1].isdigit()  # not the alert markers
        }
    finally:
        await redis.aclose()


async def test_concurrent_requests_never_overspend_and_settle_to_real_cost(
    limits: Limits,
) -> None:
    await limits.create("/api/v1/prices", limits.price.model_dump(mode="json"))
    await limits.create("/api/v1/budgets", {"budget_id": "small", "amount": "0.25"})
    key = await limits.key(budget_ids=["small"])  # the probe spent a little
    responses = await limits.burst(key, 12, limits.chat(max_tokens=40))
    admitted = [r for r in responses if r.status_code == 200]
    for response in responses:
        if response.status_code != 200:
            body = _refused(response, "insufficient_quota")
            assert response.headers["x-should-retry"] == "false"
            assert "budget 'small'" in body["error"]["message"]
    assert admitted, "some requests fit the budget"
    usages = [r.json()["usage"] for r in admitted]
    real = sum(
        to_micro_units(cost_of(limits.price, u["prompt_tokens"], u["completion_tokens"]))
        for u in usages
    )

    async def settled() -> int:
        spent = await _spent_micro(limits.stack.redis.url, "small")
        assert len(spent) == 1, (spent, [r.status_code for r in responses])
        (total,) = spent.values()
        assert total <= 250_000, "never more than the budget"
        probe = total - real
        assert 0 < probe <= to_micro_units(cost_of(limits.price, 20, 1)), (
            f"only the probe is unaccounted once every answer settled: {total} spent, {real} real"
        )
        return total

    await eventually(settled, "the edges settle every answer to its real cost")


async def _alerts(nats_url: str) -> list[contract.Alert]:
    nc = await nats.connect(nats_url)
    try:
        subscription = await nc.jetstream().pull_subscribe(contract.ALERTS_SUBJECT, durable=None)
        found: list[contract.Alert] = []
        while True:
            try:
                batch = await subscription.fetch(50, timeout=0.5)
            except TimeoutError:  # nats-py raises its own or asyncio's, by where it times out
                return found
            found += [contract.decode_alert(m.data) for m in batch]
    finally:
        await nc.close()


class Webhook:
    """A webhook receiver that fails its first delivery, to prove the retry."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.attempts = 0
        self.delivered = threading.Event()
        self.server = ThreadedServer(
            Starlette(routes=[Route("/hook", self._hook, methods=["POST"])]), "webhook"
        )

    async def _hook(self, request: Request) -> Response:
        self.attempts += 1
        if self.attempts == 1:
            return Response(status_code=503)
        self.received.append(json.loads(await request.body()))
        self.delivered.set()
        return Response(status_code=204)


async def test_budget_alerts_reach_the_webhook_and_downshift_keeps_serving(
    own_limits: Limits, fake_upstream: FakeOpenAIServer
) -> None:
    limits = own_limits
    hook = Webhook()
    hook.server.start()
    try:
        await limits.create("/api/v1/prices", limits.price.model_dump(mode="json"))
        cheap = Price(model="gpt-test", input_per_mtok=Decimal(1), output_per_mtok=Decimal(1))
        await limits.create("/api/v1/prices", cheap.model_dump(mode="json"))
        budget = {
            "budget_id": "tiny",
            "amount": "0.06",
            "soft_threshold": 0.5,
            "webhook_url": f"http://127.0.0.1:{hook.server.port}/hook",
            "downshift_to": "gpt-test",
        }
        await limits.create("/api/v1/budgets", budget)
        key = await limits.key(budget_ids=["tiny"])
        models: list[str] = []
        # Two requests spend the budget; the edge settles each one just after its answer, so
        # on a loaded machine the next few may still be admitted on the old spend.
        for index in range(20):
            response = await limits.post(index, key, limits.chat(max_tokens=20))
            assert response.status_code == 200, response.text
            models.append(response.json()["model"])
            if models[-1] == "gpt-4o-mini":
                break
        assert models[0] == "demo-1"
        assert models[-1] == "gpt-4o-mini", "past the budget, requests go to the cheaper alias"
        assert fake_upstream.requests, "the downshifted requests reached the other deployment"

        async def both_alerts_published() -> None:
            alerts = await _alerts(limits.stack.nats.url_as("test"))
            kinds = {alert.kind for alert in alerts}
            assert kinds == {contract.AlertKind.BUDGET_SOFT, contract.AlertKind.BUDGET_EXCEEDED}

        await eventually(both_alerts_published, "the edge publishes both budget alerts")
        assert await asyncio.to_thread(hook.delivered.wait, 20), "delivered after one retry"
        assert hook.attempts >= 2
        assert {r["kind"] for r in hook.received} <= {"budget_soft_limit", "budget_exceeded"}
        assert hook.received[0]["budget_id"] == "tiny"

        async def admin_counted_each_alert_once() -> None:
            metrics = (await limits.admin.get("/metrics")).text
            for kind in ("budget_soft_limit", "budget_exceeded"):
                assert f'tollway_alerts_total{{kind="{kind}"}} 1.0' in metrics

        # The chart's budget alert rules read this counter.
        await eventually(admin_counted_each_alert_once, "admin counts the alerts it delivers")
    finally:
        hook.server.stop()


async def test_parallel_slots_are_limited_and_freed_when_a_client_leaves(
    limits: Limits, shared_upstream: FakeOpenAIServer
) -> None:
    key = await limits.key(limits={"max_parallel": 2})
    shared_upstream.fault = Fault("slow_stream", delay_s=0.05)
    body = {**limits.chat(limits.upstream), "stream": True}
    headers = {"authorization": f"Bearer {key}"}
    async with (
        limits.edges[0].stream("POST", "/chat/completions", json=body, headers=headers) as one,
        limits.edges[1].stream("POST", "/chat/completions", json=body, headers=headers) as two,
    ):
        assert (one.status_code, two.status_code) == (200, 200)
        third = await limits.post(0, key, limits.chat())
        body_json = _refused(third, "rate_limit_exceeded")
        assert "parallel requests" in body_json["error"]["message"]
    shared_upstream.fault = None
    # Both clients left mid-stream; their slots are released, not kept until they expire.
    for _ in range(50):
        if (await limits.post(1, key, limits.chat())).status_code == 200:
            break
        await asyncio.sleep(0.05)
    responses = await limits.burst(key, 2, limits.chat())
    assert [r.status_code for r in responses] == [200, 200]


async def test_without_redis_budgets_fail_closed_and_rate_limits_open_as_configured(
    own_limits: Limits,
) -> None:
    limits = own_limits
    await limits.create("/api/v1/prices", limits.price.model_dump(mode="json"))
    await limits.create("/api/v1/budgets", {"budget_id": "roomy", "amount": "100"})
    rated = await limits.key(limits={"rpm": 100})
    budgeted = await limits.key(budget_ids=["roomy"])
    closed = limits.stack.start_edge(
        name="edge-closed", TOLLWAY_EDGE_LIMITS__ON_REDIS_ERROR__REQUESTS="closed"
    )
    async with httpx.AsyncClient(base_url=limits.stack.base_url) as strict:
        limits.stack.redis.kill()
        opened = await limits.post(0, rated, limits.chat())
        assert opened.status_code == 200, "rate limits fail open by default"
        refused = [
            await limits.post(1, budgeted, limits.chat()),
            await strict.post(
                "/chat/completions",
                json=limits.chat(),
                headers={"authorization": f"Bearer {rated}"},
            ),
        ]
    for response in refused:
        assert response.status_code == 503, response.text
        validate_openai("ErrorResponse", response.json())
        assert response.json()["error"]["code"] == "limits_unavailable"
        assert response.headers["retry-after"] == "1"
    unlimited = await limits.post(1, TEST_KEY, limits.chat())
    assert unlimited.status_code == 200, "a key without limits never needs Redis"
    assert "redis unavailable, admitting without limits" in limits.stack.logs()
    assert "redis unavailable, refusing (budgets fail closed)" in limits.stack.logs()
    assert "redis unavailable, refusing (requests fail closed)" in closed.log()


async def test_an_answer_from_a_fallback_model_is_charged_at_the_fallback_price(
    limits: Limits, shared_upstream: FakeOpenAIServer
) -> None:
    shared_upstream.fault = Fault(kind="status", status=500)
    cheap_but_down = f"{limits.demo}-cheap-but-down"
    cheap = {
        "name": cheap_but_down,
        "fallbacks": [limits.demo],
        "retry": {"max_attempts": 1},
        "deployments": [
            {
                "name": f"{cheap_but_down}-deployment",
                "provider": "openai",
                "model": "gpt-4o-mini",
                "api_base": shared_upstream.base_url,
            }
        ],
    }
    await limits.create("/api/v1/models", cheap)
    await limits.create("/api/v1/prices", limits.price.model_dump(mode="json"))
    await limits.create(
        "/api/v1/prices",
        {"model": cheap_but_down, "input_per_mtok": "1", "output_per_mtok": "1"},
    )
    await limits.create("/api/v1/budgets", {"budget_id": "fb", "amount": "100"})
    key = await limits.key(budget_ids=["fb"])
    assert limits.probe.status_code == 200, limits.probe.text
    response = await limits.post(0, key, limits.chat(cheap_but_down))
    assert response.status_code == 200, response.text
    expected = sum(
        to_micro_units(cost_of(limits.price, u["prompt_tokens"], u["completion_tokens"]))
        for u in (limits.probe.json()["usage"], response.json()["usage"])
    )

    async def charged() -> None:
        spent = sum((await _spent_micro(limits.stack.redis.url, "fb")).values())
        assert spent == expected, "the probe and the answer, both at tollway-demo's price"

    await eventually(charged, "the edge settles the fallback's answer")
