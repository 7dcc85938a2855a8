"""Routing and resilience through the whole stack: several deployments per alias on fake
upstreams that fail on cue, two router replicas sharing what they learn, retries and fallbacks
the client never sees, and streams that never mix two answers.

The tests share one module stack (nats-server, redis-server, two routers, an edge). Each takes a
slot of its own: its own fake upstreams (a fault is global to a server) and its own aliases
(cooldowns, breakers and health records are keyed by alias), so no test sees another's state.
The circuit breaker test stops router-2, so it keeps a stack of its own."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from tests.support.analytics import wait_for_usage
from tests.support.configs import TEST_KEY, gateway_config
from tests.support.fake_openai_server import FakeOpenAIServer, Fault
from tests.support.openai_schema import validate_openai
from tests.support.polling import eventually, kv_watchers_caught_up
from tests.support.stack import Stack, open_stack
from tests.support.usage_stream import delete_health, health_records, put_health, usage_events

from tollway_cli.servers import NatsServer, RedisServer
from tollway_common import contract
from tollway_common.contract import DeploymentHealth, HealthState, UsageEvent
from tollway_common.control import (
    CircuitBreaker,
    Credential,
    Deployment,
    ModelAlias,
    Price,
    RetryPolicy,
    RoutingStrategy,
)

AUTH = {"authorization": f"Bearer {TEST_KEY}"}
POOL_SECRETS = {"k1": "sk-pool-one-000000000000", "k2": "sk-pool-two-000000000000"}
ROUTER_ENV = {"TOLLWAY_ROUTER_IDLE_SWEEP_INTERVAL_S": "0.3"}


@dataclass
class Routed:
    stack: Stack
    east: FakeOpenAIServer
    west: FakeOpenAIServer
    # Prefixes every alias and deployment name of this test's slot.
    prefix: str = ""

    def own(self, name: str) -> str:
        """This slot's name for an alias or deployment."""
        return f"{self.prefix}{name}"


def _prices(prefix: str) -> list[Price]:
    # The fallback costs a thousand times more, so a row priced at the wrong alias shows.
    return [
        Price(model=f"{prefix}chain", input_per_mtok=Decimal(1), output_per_mtok=Decimal(1)),
        Price(model=f"{prefix}big", input_per_mtok=Decimal(1000), output_per_mtok=Decimal(1000)),
    ]


def _deployment(
    prefix: str, name: str, server: FakeOpenAIServer, secrets: Path, **fields: Any
) -> Deployment:
    return Deployment.model_validate(
        {
            "name": f"{prefix}{name}",
            "provider": "openai",
            "model": f"gpt-{name}",
            "api_base": server.base_url,
            "api_key": f"file:{secrets / 'upstream'}",
            **fields,
        }
    )


def _models(
    prefix: str, east: FakeOpenAIServer, west: FakeOpenAIServer, secrets: Path
) -> list[ModelAlias]:
    for name, secret in POOL_SECRETS.items():
        (secrets / name).write_text(secret)
    pool = [Credential(name=name, api_key=f"file:{secrets / name}") for name in POOL_SECRETS]
    return [
        ModelAlias(
            name=f"{prefix}pool",
            deployments=[
                _deployment(prefix, "east", east, secrets),
                _deployment(prefix, "west", west, secrets),
            ],
        ),
        ModelAlias(
            name=f"{prefix}prio",
            strategy=RoutingStrategy.PRIORITY,
            deployments=[
                _deployment(prefix, "primary", east, secrets, first_byte_timeout_s=0.5),
                _deployment(prefix, "backup", west, secrets, priority=1),
            ],
        ),
        ModelAlias(
            name=f"{prefix}keys",
            deployments=[
                _deployment(prefix, "pooled", east, secrets, api_key=None, credentials=pool),
            ],
        ),
        ModelAlias(
            name=f"{prefix}chain",
            fallbacks=[f"{prefix}big"],
            content_policy_fallbacks=[f"{prefix}big"],
            context_window_fallbacks=[f"{prefix}big"],
            deployments=[_deployment(prefix, "small", east, secrets, context_window=64)],
        ),
        ModelAlias(name=f"{prefix}big", deployments=[_deployment(prefix, "large", west, secrets)]),
        ModelAlias(
            name=f"{prefix}fragile",
            retry=RetryPolicy(max_attempts=1),
            circuit_breaker=CircuitBreaker(min_requests=3, failure_rate=0.5, open_s=1.5),
            deployments=[_deployment(prefix, "brittle", east, secrets)],
        ),
        ModelAlias(
            name=f"{prefix}sleepy",
            deployments=[_deployment(prefix, "dozer", east, secrets, idle_inactive_after_s=1)],
        ),
    ]


@pytest.fixture
def own_routed(
    tmp_path: Path, nats_server: NatsServer, redis_server: RedisServer
) -> Iterator[Routed]:
    """A stack of its own, for a test that stops one of its processes."""
    with FakeOpenAIServer() as east, FakeOpenAIServer() as west:
        stack = Stack(nats=nats_server, redis=redis_server, workdir=tmp_path)
        try:
            (tmp_path / "secrets").mkdir()
            config = gateway_config(tmp_path, east.base_url)
            models = [*config.models, *_models("", east, west, tmp_path / "secrets")]
            stack.apply(config.model_copy(update={"models": models, "prices": _prices("")}))
            stack.start_router("router-1", **ROUTER_ENV)
            stack.start_router("router-2", **ROUTER_ENV)
            stack.start_edge()
            yield Routed(stack, east, west)
        finally:
            stack.stop()


@pytest.fixture(scope="module")
def routed_slots(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    module_upstream: FakeOpenAIServer,
) -> Iterator[list[Routed]]:
    """One shared stack, with a slot (fake upstreams and aliases) for each test that asks for
    `routed`; each test takes the next unused one."""
    wanted = [
        item
        for item in request.session.items
        if isinstance(item, pytest.Function)
        and item.module is request.module
        and "routed" in item.fixturenames
    ]
    workdir = tmp_path_factory.mktemp("routing")
    with ExitStack() as cleanup:
        servers = [
            (cleanup.enter_context(FakeOpenAIServer()), cleanup.enter_context(FakeOpenAIServer()))
            for _ in wanted
        ]
        stack = open_stack(workdir, cleanup)
        config = gateway_config(workdir, module_upstream.base_url)
        slots = [Routed(stack, east, west, f"t{i}-") for i, (east, west) in enumerate(servers)]
        models = [*config.models]
        prices: list[Price] = []
        for slot in slots:
            models += _models(slot.prefix, slot.east, slot.west, workdir / "secrets")
            prices += _prices(slot.prefix)
        stack.apply(config.model_copy(update={"models": models, "prices": prices}))
        stack.start_router("router-1", **ROUTER_ENV)
        stack.start_router("router-2", **ROUTER_ENV)
        stack.start_edge()
        yield slots


@pytest.fixture
def routed(routed_slots: list[Routed]) -> Routed:
    return routed_slots.pop(0)


async def _chat(
    client: httpx.AsyncClient, model: str, content: str = "hello", **extra: Any
) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": content}], **extra}
    return await client.post("/chat/completions", json=body, headers=AUTH)


async def _chats(routed: Routed, model: str, count: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=routed.stack.base_url, timeout=30) as client:
        return [await _chat(client, routed.own(model)) for _ in range(count)]


async def _events(routed: Routed, responses: list[httpx.Response]) -> list[UsageEvent]:
    ids = [r.headers["x-request-id"] for r in responses]
    found = await usage_events(routed.stack.nats.url_as("test"), ids)
    assert set(found) == set(ids), "every request has its usage event"
    return [found[i] for i in ids]


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    validate_openai("CreateChatCompletionResponse", body)
    return body


async def test_429_moves_the_request_to_a_healthy_deployment_and_both_routers_avoid_it(
    routed: Routed,
) -> None:
    routed.east.fault = Fault(kind="status", status=429, headers={"retry-after": "60"})
    responses = await _chats(routed, "pool", 2)
    for response in responses:
        _ok(response)
    assert len(routed.east.requests) == 1, "the first call to east met the 429"
    records = await health_records(routed.stack.nats.url_as("test"), routed.own("pool"))
    assert [(r.deployment, r.state) for r in records] == [
        (routed.own("east"), HealthState.RATE_LIMITED)
    ]

    later = await _chats(routed, "pool", 16)
    assert all(_ok(r)["model"] == "gpt-west" for r in later)
    assert len(routed.east.requests) == 1, "no replica sent east anything while it cools down"
    events = await _events(routed, responses + later)
    assert {e.router_id for e in events[2:]} == {"router-1", "router-2"}
    retried = [e for e in events if e.retries]
    assert [e.attempts for e in retried] == [
        [routed.own("east:upstream_rate_limited"), routed.own("west:ok")]
    ]
    assert all(e.deployment == routed.own("west") and e.status_code == 200 for e in events)


async def test_a_cooldown_that_expires_is_probed_and_the_deployment_recovers(
    routed: Routed,
) -> None:
    routed.east.fault = Fault(kind="status", status=429, headers={"retry-after": "1"}, times=1)
    await _chats(routed, "pool", 2)
    assert len(routed.east.requests) == 1

    async def east_takes_its_share_again() -> None:
        for response in await _chats(routed, "pool", 6):
            _ok(response)
        assert len(routed.east.requests) >= 3, f"east served {len(routed.east.requests)}"

    await eventually(east_takes_its_share_again, "east is probed once its 1 s cooldown ends")
    records = await health_records(routed.stack.nats.url_as("test"), routed.own("pool"))
    assert [(r.deployment, r.state, r.reason) for r in records] == [
        (routed.own("east"), HealthState.ACTIVE, "recovered")
    ]


async def test_with_no_healthy_deployment_the_client_gets_429_with_the_soonest_retry_after(
    routed: Routed,
) -> None:
    for server, wait in ((routed.east, "40"), (routed.west, "30")):
        server.fault = Fault(kind="status", status=429, headers={"retry-after": wait})
    first, second = await _chats(routed, "pool", 2)
    for response in (first, second):
        assert response.status_code == 429
        validate_openai("ErrorResponse", response.json())
        assert response.json()["error"]["code"] == "upstream_rate_limited"
    assert 25 <= int(second.headers["retry-after"]) <= 30
    assert len(routed.east.requests) + len(routed.west.requests) == 2, (
        "the second request was refused without calling anyone"
    )


async def test_a_revoked_credential_rotates_to_the_next_one_in_the_pool(routed: Routed) -> None:
    routed.east.revoked.add(POOL_SECRETS["k1"])
    responses = await _chats(routed, "keys", 6)
    for response in responses:
        _ok(response)
    events = await _events(routed, responses)
    assert {e.credential for e in events} == {"k2"}
    records = await health_records(routed.stack.nats.url_as("test"), routed.own("keys"))
    assert [(r.deployment, r.credential, r.state) for r in records] == [
        (routed.own("pooled"), "k1", HealthState.INVALID)
    ]
    used = [r.headers["authorization"] for r in routed.east.requests]
    assert used.count(f"Bearer {POOL_SECRETS['k1']}") == 1, "k1 was tried once, then set aside"


async def test_every_credential_revoked_is_502_upstream_auth_failed(routed: Routed) -> None:
    routed.east.revoked.update(POOL_SECRETS.values())
    first, second = await _chats(routed, "keys", 2)
    for response in (first, second):
        assert response.status_code == 502
        assert response.headers["x-should-retry"] == "false"
        validate_openai("ErrorResponse", response.json())
        assert response.json()["error"]["code"] == "upstream_auth_failed"
        assert "sk-pool" not in response.text
    assert len(routed.east.requests) == 2, "each key tried once, then never again"


async def test_a_stream_that_fails_before_its_first_byte_is_served_whole_by_another(
    routed: Routed,
) -> None:
    routed.east.fault = Fault(kind="status", status=503)
    async with httpx.AsyncClient(base_url=routed.stack.base_url, timeout=30) as client:
        responses = [await _chat(client, routed.own("pool"), stream=True) for _ in range(4)]
    for response in responses:
        chunks = _stream_chunks(response)
        assert {c["model"] for c in chunks} == {"gpt-west"}
        assert len({c["id"] for c in chunks}) == 1


async def test_a_stream_broken_after_its_first_byte_ends_with_an_error_never_spliced(
    routed: Routed,
) -> None:
    routed.east.fault = Fault(kind="reset_stream")
    async with httpx.AsyncClient(base_url=routed.stack.base_url, timeout=30) as client:
        responses = [await _chat(client, routed.own("prio"), stream=True) for _ in range(2)]
    for response in responses:
        payloads = [ln[6:] for ln in response.text.split("\n") if ln.startswith("data: ")]
        assert "[DONE]" not in payloads
        *chunks, last = [orjson.loads(p) for p in payloads]
        validate_openai("ErrorResponse", last)
        assert last["error"]["code"] == "upstream_error"
        assert chunks, "the broken stream had started"
        for chunk in chunks:
            validate_openai("CreateChatCompletionStreamResponse", chunk)
        assert {c["model"] for c in chunks} == {"gpt-primary"}
    assert routed.west.requests == [], "no second answer was started behind the first"
    events = await _events(routed, responses)
    assert [e.attempts for e in events] == [[routed.own("primary:upstream_error")]] * 2


async def test_a_deployment_that_hangs_past_its_first_byte_timeout_falls_to_the_next(
    routed: Routed,
) -> None:
    routed.east.fault = Fault(kind="hang")
    (response,) = await _chats(routed, "prio", 1)
    assert _ok(response)["model"] == "gpt-backup"
    (event,) = await _events(routed, [response])
    assert event.attempts == [routed.own("primary:upstream_timeout"), routed.own("backup:ok")]


async def test_metering_stores_how_the_answer_was_reached_and_prices_the_fallback(
    own_routed: Routed,
) -> None:
    """On a stack of its own: metering takes the events it stores out of the usage stream,
    where the shared stack's tests read theirs."""
    routed = own_routed
    routed.stack.start_metering()
    routed.east.fault = Fault(kind="status", status=503)
    (response,) = await _chats(routed, "chain", 1)
    usage = _ok(response)["usage"]
    (row,) = await wait_for_usage(
        routed.stack.nats.url_as("test"), [response.headers["x-request-id"]]
    )
    assert (row.model_alias, row.served_model, row.fallbacks, row.retries) == (
        routed.own("chain"),
        routed.own("big"),
        1,
        3,
    )
    assert row.attempts == [*[routed.own("small:upstream_error")] * 3, routed.own("large:ok")]
    tokens = usage["prompt_tokens"] + usage["completion_tokens"]
    assert Decimal(row.cost) == Decimal(1000) * tokens / 1_000_000


async def test_a_prompt_too_long_for_the_context_window_goes_to_the_larger_model(
    routed: Routed,
) -> None:
    async with httpx.AsyncClient(base_url=routed.stack.base_url, timeout=30) as client:
        response = await _chat(client, routed.own("chain"), "word " * 400)
    assert _ok(response)["model"] == "gpt-large"
    assert routed.east.requests == [], "the small deployment was never asked"


async def test_the_circuit_opens_on_failures_then_half_opens_and_closes(
    own_routed: Routed,
) -> None:
    routed = own_routed
    routed.east.fault = Fault(kind="status", status=500)
    failures = await _chats_on_one_router(routed, "fragile", 3)
    assert [r.status_code for r in failures] == [502, 502, 502]
    refused = await _chats_on_one_router(routed, "fragile", 1)
    assert refused[0].status_code == 502
    assert "circuit breaker" in refused[0].json()["error"]["message"]
    assert len(routed.east.requests) == 3, "an open circuit calls nobody"
    routed.east.fault = None

    async def half_open() -> None:
        (response,) = await _chats_on_one_router(routed, "fragile", 1)
        assert response.status_code == 200, response.text
        assert len(routed.east.requests) == 4, "the first call after open_s is the probe"

    await eventually(half_open, "the circuit half-opens after open_s (1.5 s)")
    healed = await _chats_on_one_router(routed, "fragile", 2)
    for response in healed:
        _ok(response)


async def test_an_idle_deployment_is_marked_inactive_until_an_operator_enables_it(
    routed: Routed,
) -> None:
    records = await _wait_for_state(routed, "sleepy", HealthState.INACTIVE)
    assert [(r.deployment, r.reason) for r in records] == [
        (routed.own("dozer"), "idle: not used for 1 s")
    ]
    (refused,) = await _chats(routed, "sleepy", 1)
    assert refused.status_code == 502
    validate_openai("ErrorResponse", refused.json())
    assert "idle" in refused.json()["error"]["message"]
    assert routed.east.requests == []

    await delete_health(routed.stack.nats.url_as("test"), routed.own("sleepy"), routed.own("dozer"))
    await _routers_know_the_health_bucket(routed)
    _ok((await _chats(routed, "sleepy", 1))[0])


async def _wait_for_state(routed: Routed, alias: str, state: HealthState) -> list[DeploymentHealth]:
    for _ in range(100):
        records = await health_records(routed.stack.nats.url_as("test"), routed.own(alias))
        if any(r.state is state for r in records):
            return records
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {state} record for {alias}: {records}")


async def test_an_operator_disabled_deployment_takes_no_traffic(routed: Routed) -> None:
    await put_health(
        routed.stack.nats.url_as("test"),
        DeploymentHealth(
            alias=routed.own("pool"),
            deployment=routed.own("west"),
            state=HealthState.INACTIVE,
            reason="disabled by ops",
            operator=True,
        ),
    )
    await _routers_know_the_health_bucket(routed)
    routed.east.fault = Fault(kind="status", status=429, headers={"retry-after": "60"})
    responses = await _chats(routed, "pool", 3)
    assert [r.status_code for r in responses] == [429, 429, 429], "east comes back first"
    assert routed.west.requests == []
    assert len(routed.east.requests) == 1
    records = {
        r.deployment: r
        for r in await health_records(routed.stack.nats.url_as("test"), routed.own("pool"))
    }
    assert records[routed.own("west")].operator, "a router never overwrites an operator's record"


async def _routers_know_the_health_bucket(routed: Routed) -> None:
    await eventually(
        lambda: kv_watchers_caught_up(
            routed.stack.nats.url_as("test"), contract.KV_HEALTH, watchers=2
        ),
        "both routers' health watches deliver the operator's record",
    )


async def _chats_on_one_router(routed: Routed, model: str, count: int) -> list[httpx.Response]:
    """Circuit breakers are per router: stop the second one so every call meets the same."""
    second = next(p for p in routed.stack.processes if p.name == "router-2")
    if second.popen.poll() is None:
        second.stop()
    return await _chats(routed, model, count)


def _stream_chunks(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    payloads = [ln[6:] for ln in response.text.split("\n") if ln.startswith("data: ")]
    assert payloads[-1] == "[DONE]"
    chunks = [orjson.loads(p) for p in payloads[:-1]]
    for chunk in chunks:
        validate_openai("CreateChatCompletionStreamResponse", chunk)
    return chunks
