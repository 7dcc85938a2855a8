"""The edge's limits on the two Redis topologies operators scale out to, with real servers on
loopback: a Redis Cluster of three primaries, where request, token and concurrency limits and
budgets stay exact whichever slot (and so whichever node) a caller's keys hash to; and a
Sentinel-managed primary and replica, where the primary is killed during traffic, the
configured failure modes answer during the gap (and are counted), and limits hold again on the
promoted replica."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletion
from prometheus_client import REGISTRY
from redis import Redis as SyncRedis
from redis.crc import key_slot
from tests.support.configs import gateway_config
from tests.support.edge_fakes import RecordingAlerts, catalog
from tests.support.openai_schema import validate_openai
from tests.support.stack import Stack

from tollway_cli.redis_topologies import (
    RedisClusterServers,
    RedisSentinelServers,
    start_redis_cluster,
    start_redis_sentinel,
)
from tollway_cli.servers import NatsServer, RedisServer
from tollway_common.config_file import BootstrapKey
from tollway_common.contract import ClientInfo, Endpoint, Principal, Usage
from tollway_common.control import Budget, KeyRecord, Limits, ModelAlias, Price
from tollway_common.errors import BudgetExceeded, LimitsUnavailable, RateLimited
from tollway_common.settings import RedisSettings
from tollway_edge import redis_client
from tollway_edge.auth import Caller
from tollway_edge.limits.gate import LimitGate, Ticket
from tollway_edge.limits.plan import hash_tag
from tollway_edge.request_facts import read_facts
from tollway_edge.settings import LimitsSettings

CLIENT = ClientInfo(ip_hash="ip", user_agent="tests")

DEMO = ModelAlias(name="demo", deployments=[{"name": "d", "provider": "fake", "model": "m"}])
# A dollar per thousand tokens: every request has a visible cost in micro-dollars.
PRICE = Price(model="demo", input_per_mtok=Decimal(1000), output_per_mtok=Decimal(1000))
MAX_TOKENS = 100
_SECRET = "sk-tollway-on-cluster-0123456789abcdef"


def _caller(record: KeyRecord) -> Caller:
    return Caller(principal=Principal(key_id=record.key_id), levels=(), key=record)


def _slot(record: KeyRecord) -> int:
    return key_slot(f"{{{hash_tag(_caller(record).principal)}}}".encode())


async def _admit(gate: LimitGate, record: KeyRecord, request_id: str) -> Ticket:
    body: dict[str, Any] = {
        "model": "demo",
        "messages": [{"role": "user", "content": "hello there"}],
        "max_tokens": MAX_TOKENS,
    }
    facts = read_facts(Endpoint.CHAT_COMPLETIONS, body)
    return await gate.admit(
        _caller(record), Endpoint.CHAT_COMPLETIONS, DEMO, facts, request_id, CLIENT, 30
    )


async def _burst(gate: LimitGate, record: KeyRecord, count: int) -> list[Ticket | Exception]:
    """`count` admissions at once; each a ticket or the refusal it met."""
    results = await asyncio.gather(
        *(_admit(gate, record, f"{record.key_id}-{i}") for i in range(count)),
        return_exceptions=True,
    )
    outcomes: list[Ticket | Exception] = []
    for result in results:
        if isinstance(result, Ticket | Exception):
            outcomes.append(result)
        else:  # a cancellation or an interrupt is not an outcome
            raise result
    return outcomes


def _unavailable(kind: str, mode: str) -> float:
    value = REGISTRY.get_sample_value(
        "tollway_limits_unavailable_total", {"kind": kind, "mode": mode}
    )
    return value or 0.0


# --- Redis Cluster -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterServers]:
    servers = start_redis_cluster(tmp_path_factory.mktemp("redis-cluster"))
    try:
        yield servers
    finally:
        servers.stop()


@pytest.fixture
async def cluster_client(
    cluster: RedisClusterServers,
) -> AsyncIterator[redis_client.RedisClient]:
    client = redis_client.connect(RedisSettings(mode="cluster", cluster_nodes=cluster.seeds))
    await redis_client.warm_up(client)
    try:
        yield client
    finally:
        await client.aclose()


def _keys_on_every_node(cluster: RedisClusterServers, prefix: str, per_node: int) -> list[str]:
    """Key ids whose hash tags land `per_node` times on each primary of the cluster."""
    chosen: dict[int, list[str]] = {index: [] for index in range(len(cluster.nodes))}
    candidate = 0
    while any(len(ids) < per_node for ids in chosen.values()):
        key_id = f"{prefix}{candidate}"
        record = KeyRecord(key_id=key_id, name=key_id, key_hash=key_id, prefix="p")
        node = cluster.nodes.index(cluster.node_for_slot(_slot(record)))
        if len(chosen[node]) < per_node:
            chosen[node].append(key_id)
        candidate += 1
    return [key_id for ids in chosen.values() for key_id in ids]


def _limited_keys(
    cluster: RedisClusterServers, prefix: str, limits: Limits, budget_ids: list[str] | None = None
) -> list[KeyRecord]:
    return [
        KeyRecord(
            key_id=key_id,
            name=key_id,
            key_hash=key_id,
            prefix="p",
            limits=limits,
            budget_ids=budget_ids or [],
        )
        for key_id in _keys_on_every_node(cluster, prefix, per_node=2)
    ]


def _counter_keys_per_node(cluster: RedisClusterServers, pattern: str) -> list[int]:
    counts = []
    for node in cluster.nodes:
        with SyncRedis(host="127.0.0.1", port=node.port) as client:
            counts.append(len(client.keys(pattern)))
    return counts


async def test_request_limits_are_exact_on_every_node_of_a_cluster(
    cluster: RedisClusterServers, cluster_client: redis_client.RedisClient
) -> None:
    gate = LimitGate(catalog(models=[DEMO]), cluster_client, RecordingAlerts(), LimitsSettings())
    records = _limited_keys(cluster, "rpm", Limits(rpm=5))
    bursts = await asyncio.gather(*(_burst(gate, record, 9) for record in records))
    for record, results in zip(records, bursts, strict=True):
        admitted = [r for r in results if isinstance(r, Ticket)]
        refused = [r for r in results if isinstance(r, RateLimited)]
        assert (len(admitted), len(refused)) == (5, 4), (
            record.key_id,
            [repr(r)[:300] for r in results if not isinstance(r, Ticket)],
        )
        assert all(ticket.reserved and not ticket.reserved.degraded for ticket in admitted)
    assert _counter_keys_per_node(cluster, "tw:{key:rpm*}:*") == [2, 2, 2]


async def test_token_and_parallel_limits_are_exact_on_every_node_of_a_cluster(
    cluster: RedisClusterServers, cluster_client: redis_client.RedisClient
) -> None:
    gate = LimitGate(catalog(models=[DEMO]), cluster_client, RecordingAlerts(), LimitsSettings())
    probe = await _admit(gate, _limited_keys(cluster, "probe", Limits(tpm=10**9))[0], "p")
    per_request = probe.tokens
    assert per_request >= MAX_TOKENS
    # Room for three requests and a half: the half never admits a fourth.
    records = _limited_keys(cluster, "tpm", Limits(tpm=3 * per_request + per_request // 2))
    bursts = await asyncio.gather(*(_burst(gate, record, 6) for record in records))
    for record, results in zip(records, bursts, strict=True):
        assert sum(isinstance(r, Ticket) for r in results) == 3, record.key_id

    parallel = _limited_keys(cluster, "par", Limits(max_parallel=2))
    bursts = await asyncio.gather(*(_burst(gate, record, 5) for record in parallel))
    held: list[Ticket] = []
    for record, results in zip(parallel, bursts, strict=True):
        admitted = [r for r in results if isinstance(r, Ticket)]
        assert len(admitted) == 2, record.key_id
        held.append(admitted[0])
    for ticket in held:  # a finished request frees its slot for exactly one more
        await gate.settle(ticket, Usage(prompt_tokens=1, completion_tokens=1, total_tokens=2))
    bursts = await asyncio.gather(*(_burst(gate, record, 3) for record in parallel))
    assert [sum(isinstance(r, Ticket) for r in results) for results in bursts] == [1] * 6


async def test_budgets_never_overspend_and_settle_to_the_real_cost_on_a_cluster(
    cluster: RedisClusterServers, cluster_client: redis_client.RedisClient
) -> None:
    generous = Budget(budget_id="generous", amount=Decimal(1000))
    world = catalog(models=[DEMO], budgets=[generous], prices=[PRICE])
    probe_gate = LimitGate(world, cluster_client, RecordingAlerts(), LimitsSettings())
    probe_key = _limited_keys(cluster, "bprobe", Limits(), ["generous"])[0]
    reserved = (await _admit(probe_gate, probe_key, "probe")).cost_micro
    assert reserved > 0

    # Room for three reservations and a half.
    amount = Decimal(3 * reserved + reserved // 2) / 1_000_000
    budget = Budget(budget_id="tight", amount=amount)
    gate = LimitGate(
        catalog(models=[DEMO], budgets=[budget], prices=[PRICE]),
        cluster_client,
        RecordingAlerts(),
        LimitsSettings(),
    )
    records = _limited_keys(cluster, "bud", Limits(), ["tight"])
    bursts = await asyncio.gather(*(_burst(gate, record, 6) for record in records))
    usage = Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15)
    used = 15_000  # micro-dollars: 15 tokens at a dollar per thousand
    for record, results in zip(records, bursts, strict=True):
        admitted = [r for r in results if isinstance(r, Ticket)]
        assert len(admitted) == 3, record.key_id
        assert sum(isinstance(r, BudgetExceeded) for r in results) == 3
        for ticket in admitted:
            await gate.settle(ticket, usage)
        (status,) = await gate.budget_status(_caller(record))
        assert Decimal(status["spent"]) == Decimal(3 * used) / 1_000_000, record.key_id


async def test_an_edge_in_cluster_mode_holds_a_rate_limit_through_the_sdk(
    tmp_path: Path,
    nats_server: NatsServer,
    redis_server: RedisServer,
    cluster: RedisClusterServers,
) -> None:
    """The whole path: a real edge process with TOLLWAY_EDGE_REDIS__MODE=cluster (the
    standalone Redis beside it stays unused), a key limited to 4 requests a minute, requests
    through the openai SDK."""
    stack = Stack(nats=nats_server, redis=redis_server, workdir=tmp_path)
    config = gateway_config(tmp_path, "http://127.0.0.1:9")
    (tmp_path / "cluster-key").write_text(_SECRET)
    limited = BootstrapKey(
        name="on-cluster", secret=f"file:{tmp_path / 'cluster-key'}", limits=Limits(rpm=4)
    )
    try:
        stack.apply(config.model_copy(update={"keys": [limited]}))
        stack.start_router()
        stack.start_edge(
            TOLLWAY_EDGE_REDIS__MODE="cluster",
            TOLLWAY_EDGE_REDIS__CLUSTER_NODES=cluster.seeds,
        )
        client = openai.AsyncOpenAI(base_url=stack.base_url, api_key=_SECRET, max_retries=0)
        results = await asyncio.gather(
            *(
                client.chat.completions.create(
                    model="tollway-demo", messages=[{"role": "user", "content": "hi"}]
                )
                for _ in range(7)
            ),
            return_exceptions=True,
        )
        await client.close()
    finally:
        stack.stop()
    answered = [r for r in results if isinstance(r, ChatCompletion)]
    refused = [r for r in results if isinstance(r, openai.RateLimitError)]
    assert (len(answered), len(refused)) == (4, 3), results
    for error in refused:
        validate_openai("ErrorResponse", error.response.json())
        assert error.response.headers["x-ratelimit-limit-requests"] == "4"
    # The key's counters live on the node that serves their slot, and only there.
    found = 0
    for node in cluster.nodes:
        with SyncRedis(host="127.0.0.1", port=node.port) as client_on_node:
            for name in client_on_node.keys("tw:*"):
                tag = name.decode().split("{", 1)[1].split("}", 1)[0]
                assert cluster.node_for_slot(key_slot(f"{{{tag}}}".encode())) is node
                found += 1
    assert found


# --- Redis Sentinel ------------------------------------------------------------------------


@pytest.fixture
def sentinel(tmp_path: Path) -> Iterator[RedisSentinelServers]:
    servers = start_redis_sentinel(tmp_path / "redis-sentinel")
    try:
        yield servers
    finally:
        servers.stop()


# On a loaded machine, redis-py (8.1) now and then loses track of a connection during the
# failover and leaves it for the garbage collector to close (cause not pinned down; the client
# itself is closed). Collected here, within the test, so that this filter and not the
# session's "error" applies to the warning.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_limits_ride_through_a_sentinel_failover_with_the_configured_failure_modes(
    sentinel: RedisSentinelServers,
) -> None:
    """Rate limits fail open and budgets closed (the defaults) while no primary answers; each
    such admission is counted; once the sentinels promote the replica, limits hold again."""
    client = redis_client.connect(
        RedisSettings(
            mode="sentinel",
            sentinels=sentinel.sentinel_addresses,
            master_name=sentinel.master_name,
        )
    )
    roomy = Budget(budget_id="roomy", amount=Decimal(1000))
    rated = KeyRecord(key_id="rated", name="r", key_hash="hr", prefix="p", limits=Limits(rpm=10**6))
    budgeted = KeyRecord(key_id="bud", name="b", key_hash="hb", prefix="p", budget_ids=["roomy"])
    world = catalog(models=[DEMO], budgets=[roomy], prices=[PRICE])
    gate = LimitGate(world, client, RecordingAlerts(), LimitsSettings())
    before = (_unavailable("requests", "open"), _unavailable("budgets", "closed"))
    outcomes: list[tuple[str, str]] = []  # (key, admitted | degraded | unavailable)
    stop = asyncio.Event()

    async def traffic(record: KeyRecord) -> None:
        sequence = 0
        while not stop.is_set():
            sequence += 1
            try:
                ticket = await _admit(gate, record, f"{record.key_id}-{sequence}")
            except LimitsUnavailable:
                outcomes.append((record.key_id, "unavailable"))
            else:
                assert ticket.reserved is not None
                outcomes.append(
                    (record.key_id, "degraded" if ticket.reserved.degraded else "admitted")
                )
            await asyncio.sleep(0.01)

    try:
        loops = [asyncio.create_task(traffic(rated)), asyncio.create_task(traffic(budgeted))]
        await asyncio.sleep(0.5)
        old_primary = sentinel.primary.port
        sentinel.primary.kill()
        killed_at = len(outcomes)
        # A split vote among the sentinels retries after twice the failover timeout (10 s).
        deadline = time.monotonic() + 30
        while sentinel.primary_port() == old_primary:
            assert time.monotonic() < deadline, "the sentinels never promoted the replica"
            await asyncio.sleep(0.1)
        # Traffic goes on until both keys are admitted with their limits again.
        recovered_from = len(outcomes)
        while not {"rated", "bud"} <= {
            key for key, outcome in outcomes[recovered_from:] if outcome == "admitted"
        }:
            assert time.monotonic() < deadline, "limits did not come back after the failover"
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.gather(*loops)

        gap = outcomes[killed_at:]
        degraded = [key for key, outcome in gap if outcome == "degraded"]
        unavailable = [key for key, outcome in gap if outcome == "unavailable"]
        assert set(degraded) == {"rated"}, "rate limits failed open"
        assert set(unavailable) == {"bud"}, "budgets failed closed"
        after = (_unavailable("requests", "open"), _unavailable("budgets", "closed"))
        assert after == (before[0] + len(degraded), before[1] + len(unavailable))

        # On the promoted replica a fresh limit is exact again.
        strict = KeyRecord(
            key_id="strict", name="s", key_hash="hs", prefix="p", limits=Limits(rpm=3)
        )
        results = await _burst(gate, strict, 5)
        assert sum(isinstance(r, Ticket) for r in results) == 3
        assert sum(isinstance(r, RateLimited) for r in results) == 2
        with SyncRedis(host="127.0.0.1", port=sentinel.replica.port) as promoted:
            assert promoted.keys("tw:{key:strict}:*"), "the counters are on the new primary"
    finally:
        stop.set()
        await client.aclose()
        gc.collect()
