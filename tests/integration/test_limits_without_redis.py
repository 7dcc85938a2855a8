"""What the limits gate does when Redis goes away, per kind of limit, against a real Redis that
is stopped mid-test, filled up, or protected by a password: budgets fail closed and rate
limits open by default, each outcome is counted, and a full Redis never silently turns limits
off."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr
from redis.asyncio import Redis
from tests.support.edge_fakes import RecordingAlerts, catalog

from tollway_cli.servers import RedisServer, start_redis
from tollway_common.contract import ClientInfo, Endpoint, Principal
from tollway_common.control import Budget, KeyRecord, Limits, ModelAlias, Price
from tollway_common.errors import LimitsUnavailable
from tollway_common.settings import RedisSettings
from tollway_edge import redis_client
from tollway_edge.auth import Caller
from tollway_edge.catalog import Catalog
from tollway_edge.limits.gate import LimitGate, Ticket
from tollway_edge.request_facts import read_facts
from tollway_edge.settings import LimitsSettings, RedisFailureModes

CLIENT = ClientInfo(ip_hash="ip", user_agent="tests")

DEMO = ModelAlias(name="demo", deployments=[{"name": "d", "provider": "fake", "model": "m"}])
PRICE = Price(model="demo", input_per_mtok=Decimal(1), output_per_mtok=Decimal(1))
BUDGET = Budget(budget_id="monthly", amount=Decimal(100))
RATE_LIMITED = KeyRecord(key_id="r", name="rated", key_hash="hr", prefix="p", limits=Limits(rpm=50))
BUDGETED = KeyRecord(key_id="b", name="budgeted", key_hash="hb", prefix="p", budget_ids=["monthly"])
PARALLEL = KeyRecord(
    key_id="c", name="parallel", key_hash="hc", prefix="p", limits=Limits(max_parallel=2)
)
PASSWORD = "redis-test-password-0123456789"


def _world() -> Catalog:
    return catalog(models=[DEMO], budgets=[BUDGET], prices=[PRICE])


async def _admit(gate: LimitGate, record: KeyRecord) -> Ticket:
    body: dict[str, Any] = {"model": "demo", "messages": [{"role": "user", "content": "hi"}]}
    facts = read_facts(Endpoint.CHAT_COMPLETIONS, body)
    caller = Caller(principal=Principal(key_id=record.key_id), levels=(), key=record)
    return await gate.admit(caller, Endpoint.CHAT_COMPLETIONS, DEMO, facts, "req", CLIENT, 30)


def _unavailable(kind: str, mode: str) -> float:
    value = REGISTRY.get_sample_value(
        "tollway_limits_unavailable_total", {"kind": kind, "mode": mode}
    )
    return value or 0.0


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[redis_client.RedisClient]:
    client = redis_client.connect(RedisSettings(url=redis_server.url))
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def guarded_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = start_redis(tmp_path / "guarded", extra_args=("--requirepass", PASSWORD))
    try:
        yield server
    finally:
        server.stop()


async def test_with_redis_stopped_budgets_fail_closed_and_rate_limits_open_by_default(
    redis_server: RedisServer, redis: Redis
) -> None:
    gate = LimitGate(_world(), redis, RecordingAlerts(), LimitsSettings())
    assert (await _admit(gate, BUDGETED)).active, "with Redis up the budget is reserved"
    redis_server.kill()
    before = (_unavailable("requests", "open"), _unavailable("budgets", "closed"))

    rated = await _admit(gate, RATE_LIMITED)
    assert rated.reserved is not None
    assert rated.reserved.degraded, "admitted without its rate limit"
    with pytest.raises(LimitsUnavailable, match="budgets") as refused:
        await _admit(gate, BUDGETED)

    error = refused.value
    assert (error.status, error.body().code, error.headers()["retry-after"]) == (
        503,
        "limits_unavailable",
        "1",
    )
    after = (_unavailable("requests", "open"), _unavailable("budgets", "closed"))
    assert after == (before[0] + 1, before[1] + 1)


async def test_each_kind_takes_its_own_configured_mode(
    redis_server: RedisServer, redis: Redis
) -> None:
    modes = RedisFailureModes(requests="closed", concurrency="closed", budgets="open")
    gate = LimitGate(_world(), redis, RecordingAlerts(), LimitsSettings(on_redis_error=modes))
    redis_server.kill()
    with pytest.raises(LimitsUnavailable, match="requests"):
        await _admit(gate, RATE_LIMITED)
    with pytest.raises(LimitsUnavailable, match="concurrency"):
        await _admit(gate, PARALLEL)
    budgeted = await _admit(gate, BUDGETED)
    assert budgeted.reserved is not None
    assert budgeted.reserved.degraded


async def test_a_full_redis_refuses_budgets_instead_of_forgetting_them(redis: Redis) -> None:
    """Compose runs Redis with `noeviction`: when it is full, writes fail and the failure modes
    apply, where an evicting policy would drop budget counters and reset the spend to zero."""
    gate = LimitGate(_world(), redis, RecordingAlerts(), LimitsSettings())
    await redis.config_set("maxmemory-policy", "noeviction")
    await redis.config_set("maxmemory", 1)
    with pytest.raises(LimitsUnavailable):
        await _admit(gate, BUDGETED)
    rated = await _admit(gate, RATE_LIMITED)
    assert rated.reserved is not None
    assert rated.reserved.degraded


async def test_the_edge_signs_in_to_a_redis_that_requires_a_password(
    guarded_redis: RedisServer, tmp_path: Path
) -> None:
    password_file = tmp_path / "redis-password"
    password_file.write_text(PASSWORD + "\n")
    signed_in = redis_client.connect(
        RedisSettings(url=guarded_redis.url, password_file=password_file)
    )
    anonymous = redis_client.connect(RedisSettings(url=guarded_redis.url))
    wrong = redis_client.connect(RedisSettings(url=guarded_redis.url, password=SecretStr("nope")))
    try:
        gate = LimitGate(_world(), signed_in, RecordingAlerts(), LimitsSettings())
        ticket = await _admit(gate, BUDGETED)
        assert ticket.reserved is not None
        assert not ticket.reserved.degraded
        for client in (anonymous, wrong):
            refusing = LimitGate(_world(), client, RecordingAlerts(), LimitsSettings())
            with pytest.raises(LimitsUnavailable):
                await _admit(refusing, BUDGETED)
    finally:
        for client in (signed_in, anonymous, wrong):
            await client.aclose()


async def test_a_burst_larger_than_the_pool_waits_for_connections_instead_of_failing(
    redis_server: RedisServer,
) -> None:
    """Eight admissions at once through a pool of two: each waits its turn (within the Redis
    timeout) and none is refused or degraded for want of a connection."""
    client = redis_client.connect(
        RedisSettings(url=redis_server.url, max_connections=2, timeout_s=2.0)
    )
    try:
        gate = LimitGate(_world(), client, RecordingAlerts(), LimitsSettings())
        tickets = await asyncio.gather(*(_admit(gate, BUDGETED) for _ in range(8)))
        assert all(t.reserved is not None and not t.reserved.degraded for t in tickets)
    finally:
        await client.aclose()
