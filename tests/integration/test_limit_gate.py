"""The limits gate in one process against a real Redis: what it reserves for a request's
facts, the bound it decides for a request that names none, and the model it hands back when a
budget downshifts. No router runs: the reply mux is scripted (tests/support/edge_fakes.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis
from tests.support.edge_fakes import RecordingAlerts, ScriptedMux, catalog, post, runtime

from tollway_common import contract, http_metrics
from tollway_common.contract import (
    ClientInfo,
    Endpoint,
    FinalReply,
    Principal,
    ReplyKind,
    RequestFacts,
)
from tollway_common.control import (
    Budget,
    Deployment,
    KeyRecord,
    Limits,
    ModelAlias,
    Price,
    hash_key,
)
from tollway_common.errors import InvalidRequest
from tollway_edge import inference
from tollway_edge.auth import Caller
from tollway_edge.catalog import Catalog
from tollway_edge.limits.gate import LimitGate
from tollway_edge.request_facts import read_facts
from tollway_edge.settings import LimitsSettings

CLIENT = ClientInfo(ip_hash="ip", user_agent="tests")

DEMO = ModelAlias(name="demo", deployments=[Deployment(name="d", provider="fake", model="m")])
CHEAP = ModelAlias(name="cheap", deployments=[Deployment(name="c", provider="fake", model="m")])
# A dollar per thousand tokens: any request costs more than the tiny budget.
PRICE = Price(model="demo", input_per_mtok=Decimal(1000), output_per_mtok=Decimal(1000))
TINY = Budget(budget_id="tiny", amount=Decimal("0.001"), downshift_to="cheap")
SETTINGS = LimitsSettings(default_max_tokens=500)


def _chat(**extra: Any) -> dict[str, Any]:
    return {"model": "demo", "messages": [{"role": "user", "content": "x" * 40}], **extra}


def _caller(record: KeyRecord) -> Caller:
    return Caller(principal=Principal(key_id=record.key_id), levels=(), key=record)


def _gate(world: Catalog, redis: Redis) -> LimitGate:
    return LimitGate(world, redis, RecordingAlerts(), SETTINGS)


async def _admit(gate: LimitGate, record: KeyRecord, body: dict[str, Any]) -> Any:
    facts = read_facts(Endpoint.CHAT_COMPLETIONS, body)
    return await gate.admit(
        _caller(record), Endpoint.CHAT_COMPLETIONS, DEMO, facts, "req-1", CLIENT, 30
    )


async def test_a_limited_request_without_a_bound_is_reserved_with_the_default(
    redis: Redis,
) -> None:
    record = KeyRecord(key_id="k", name="k", key_hash="h", prefix="p", limits=Limits(tpm=10_000))
    ticket = await _admit(_gate(catalog(models=[DEMO]), redis), record, _chat())
    assert ticket.facts == RequestFacts(max_tokens=500, prompt_tokens=10)
    assert (ticket.active, ticket.tokens) == (True, 510)
    assert ticket.headers["x-ratelimit-remaining-tokens"] == str(10_000 - 510)


async def test_a_request_larger_than_the_limit_is_a_400_not_a_retry(redis: Redis) -> None:
    record = KeyRecord(key_id="k", name="k", key_hash="h", prefix="p", limits=Limits(tpm=100))
    with pytest.raises(InvalidRequest, match="more than the key 'k' limit of 100") as raised:
        await _admit(_gate(catalog(models=[DEMO]), redis), record, _chat(max_tokens=500))
    assert (raised.value.status, raised.value.body().code) == (400, "tokens_exceed_limit")


async def test_the_larger_of_two_token_fields_is_reserved(redis: Redis) -> None:
    record = KeyRecord(key_id="k", name="k", key_hash="h", prefix="p", limits=Limits(tpm=1000))
    gate = _gate(catalog(models=[DEMO]), redis)
    with pytest.raises(InvalidRequest, match="needs about 2010 tokens") as raised:
        await _admit(gate, record, _chat(max_completion_tokens=10, max_tokens=2000))
    assert raised.value.body().code == "tokens_exceed_limit"


async def test_every_answer_is_reserved(redis: Redis) -> None:
    record = KeyRecord(key_id="k", name="k", key_hash="h", prefix="p", limits=Limits(tpm=10_000))
    gate = _gate(catalog(models=[DEMO]), redis)
    ticket = await _admit(gate, record, _chat(max_tokens=100, n=3))
    assert ticket.tokens == 10 + 3 * 100
    unbounded = await _admit(gate, record, _chat(n=2))
    assert (unbounded.facts.max_tokens, unbounded.tokens) == (500, 10 + 2 * 500)


async def test_a_budget_downshift_hands_back_the_model_it_resolved(redis: Redis) -> None:
    record = KeyRecord(key_id="k", name="k", key_hash="h", prefix="p", budget_ids=["tiny"])
    world = catalog(models=[DEMO, CHEAP], budgets=[TINY], prices=[PRICE])
    gate = _gate(world, redis)
    ticket = await _admit(gate, record, _chat(max_tokens=20))
    assert ticket.model is world.resolve("cheap")
    assert ticket.facts == RequestFacts(max_tokens=20, prompt_tokens=10)
    assert not ticket.active, "the downshifted request no longer counts against the budget"


async def test_a_downshifted_request_is_sent_to_the_model_the_gate_chose(redis: Redis) -> None:
    key = "sk-tollway-budgeted-0123456789"
    record = KeyRecord(
        key_id="k", name="k", key_hash=hash_key(key), prefix="p", budget_ids=["tiny"]
    )
    world = catalog(models=[DEMO, CHEAP], keys=[record], budgets=[TINY], prices=[PRICE])
    answer = orjson.dumps({"object": "chat.completion", "choices": []})
    mux = ScriptedMux([(ReplyKind.CHUNK, answer), (ReplyKind.FINAL, contract.encode(FinalReply()))])
    rt = runtime(world, mux, redis=redis)
    request = post("/v1/chat/completions", _chat(), key)
    response = await inference.handle(request, Endpoint.CHAT_COMPLETIONS, rt, "req-1")
    assert response.status_code == 200
    assert mux.infer.route.alias == "cheap"
    assert request.scope["state"][http_metrics.MODEL_STATE_KEY] == "cheap"
