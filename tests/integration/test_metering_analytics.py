"""Metering prices usage from the control plane's price table, stores audit events, and
answers analytics questions with the numbers computed here by hand."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from tests.support.analytics import wait_for_usage

from tollway_cli.processes import ManagedProcess, spawn_module
from tollway_cli.servers import NatsServer
from tollway_common import contract, nats_client
from tollway_common.bus_permissions import Service
from tollway_common.contract import (
    AuditActor,
    AuditEvent,
    AuditQuery,
    AuditReply,
    Endpoint,
    Principal,
    SummaryQuery,
    SummaryReply,
    UsageEvent,
    UsageFilter,
)
from tollway_common.control import Price, encode_record, kv_key_for_alias
from tollway_common.ids import new_request_id, usage_msg_id

HOUR_MS = 3_600_000
START_MS = (int(time.time() * 1000) // HOUR_MS - 3) * HOUR_MS  # three whole hours ago
PRICE = Price(
    model="gpt",
    input_per_mtok=Decimal("2.50"),
    output_per_mtok=Decimal("10"),
    cached_read_per_mtok=Decimal("1.25"),
    version="2026-11",
)


def _event(
    team: str, key: str, model: str, offset_ms: int, prompt: int, completion: int, **extra: object
) -> UsageEvent:
    return UsageEvent.model_validate(
        {
            "request_id": new_request_id(),
            "received_at_ms": START_MS + offset_ms,
            "endpoint": Endpoint.CHAT_COMPLETIONS,
            "principal": Principal(key_id=key, team_id=team, org_id="acme"),
            "model_alias": model,
            "provider": "openai",
            "status_code": 200,
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "latency_ms": 100.0,
            "ttft_ms": 40.0,
            **extra,
        }
    )


# Deployments: "east" with a pool of two upstream keys, "west" and "local" with one key each.
EAST_A = {"deployment": "east", "credential": "a"}
EAST_B = {"deployment": "east", "credential": "b"}
EVENTS = [
    # team ml: two priced requests in the first hour, one error in the second
    _event("ml", "k1", "gpt", 1_000, 1000, 500, cached_read_tokens=400, latency_ms=100.0, **EAST_A),
    _event("ml", "k1", "gpt", 2_000, 2000, 1000, latency_ms=300.0, **EAST_B),
    _event(
        "ml", "k2", "gpt", HOUR_MS + 5, 100, 0, status_code=500, latency_ms=900.0, deployment="west"
    ),
    # team web: one request to a model with no price
    _event(
        "web",
        "k3",
        "llama",
        HOUR_MS + 10,
        50,
        50,
        latency_ms=50.0,
        ttft_ms=None,
        deployment="local",
    ),
]


def _cost(prompt: int, completion: int, cached: int = 0) -> Decimal:
    cached_rate = PRICE.cached_read_per_mtok
    assert cached_rate is not None
    return (
        (prompt - cached) * PRICE.input_per_mtok
        + cached * cached_rate
        + completion * PRICE.output_per_mtok
    ) / 1_000_000


ML_COST = _cost(1000, 500, 400) + _cost(2000, 1000) + _cost(100, 0)


@pytest.fixture
async def js(nats_server: NatsServer) -> AsyncIterator[tuple[Client, JetStreamContext]]:
    nc = await nats.connect(nats_server.url_as("test"))
    js = nc.jetstream()
    await nats_client.ensure_usage_stream(js, 1)
    await nats_client.ensure_audit_stream(js, 1)
    prices = await nats_client.ensure_kv(js, contract.KV_PRICES, 1)
    await prices.put(kv_key_for_alias(PRICE.model), encode_record(PRICE))
    try:
        yield nc, js
    finally:
        await nc.close()


@pytest.fixture
def metering(tmp_path: Path, nats_server: NatsServer) -> Iterator[ManagedProcess]:
    process = spawn_module(
        "metering",
        "tollway_metering",
        {
            **nats_server.env(Service.METERING),
            "TOLLWAY_METERING_CLICKHOUSE_DSN": f"chdb://{tmp_path / 'ch'}",
            "TOLLWAY_METERING_FETCH_TIMEOUT_S": "0.2",
        },
        tmp_path / "logs",
    )
    yield process
    process.stop()


async def _publish(js: JetStreamContext, events: list[UsageEvent]) -> None:
    for event in events:
        headers = {contract.HEADER_MSG_ID: usage_msg_id(event.request_id, "router")}
        await js.publish(contract.USAGE_SUBJECT, contract.encode(event), headers=headers)


async def _summary(nc: Client, query: SummaryQuery) -> SummaryReply:
    reply = await nc.request(
        contract.analytics_subject("summary"), contract.encode(query), timeout=10
    )
    answer = SummaryReply.model_validate_json(reply.data)
    assert not answer.error, answer.error
    return answer


async def test_usage_is_priced_and_summarised_exactly(
    js: tuple[Client, JetStreamContext], metering: ManagedProcess, nats_server: NatsServer
) -> None:
    nc, stream = js
    await _publish(stream, EVENTS)
    await _publish(stream, EVENTS[:1])  # a duplicate publish is dropped by JetStream
    rows = await wait_for_usage(nats_server.url_as("test"), [e.request_id for e in EVENTS])
    by_id = {row.request_id: row for row in rows}
    first = by_id[EVENTS[0].request_id]
    assert Decimal(first.cost) == _cost(1000, 500, 400)
    assert (first.currency, first.price_version, first.unpriced) == ("USD", "2026-11", False)
    unpriced = by_id[EVENTS[3].request_id]
    assert (Decimal(unpriced.cost), unpriced.unpriced) == (Decimal(0), True)

    by_team = await _summary(nc, SummaryQuery(group_by="team_id", order_by="cost"))
    teams = {row.group: row for row in by_team.rows}
    assert [row.group for row in by_team.rows] == ["ml", "web"], "top spender first"
    assert Decimal(teams["ml"].cost) == ML_COST
    assert (teams["ml"].requests, teams["ml"].errors) == (3, 1)
    assert (teams["ml"].prompt_tokens, teams["ml"].completion_tokens) == (3100, 1500)
    assert teams["ml"].cached_read_tokens == 400
    assert (teams["web"].unpriced_requests, Decimal(teams["web"].cost)) == (1, Decimal(0))
    assert teams["ml"].latency_p50_ms == 300.0
    assert teams["ml"].latency_p99_ms == 900.0
    assert (teams["ml"].ttft_p50_ms, teams["ml"].ttft_p99_ms) == (40.0, 40.0)
    assert teams["web"].ttft_p50_ms is None

    hourly = await _summary(
        nc,
        SummaryQuery(filter=UsageFilter(team_id="ml"), bucket="hour", order_by="time"),
    )
    assert [(row.bucket_ms, row.requests) for row in hourly.rows] == [
        (START_MS, 2),
        (START_MS + HOUR_MS, 1),
    ]
    by_deployment = await _summary(nc, SummaryQuery(group_by="deployment", order_by="cost"))
    assert [(row.group, row.requests) for row in by_deployment.rows] == [
        ("east", 2),
        ("west", 1),
        ("local", 1),
    ]
    assert Decimal(by_deployment.rows[0].cost) == _cost(1000, 500, 400) + _cost(2000, 1000)
    by_credential = await _summary(nc, SummaryQuery(group_by="credential", order_by="cost"))
    assert [(row.group, Decimal(row.cost)) for row in by_credential.rows] == [
        ("east/b", _cost(2000, 1000)),
        ("east/a", _cost(1000, 500, 400)),
        ("west", _cost(100, 0)),
        ("local", Decimal(0)),
    ]
    one_key = await _summary(
        nc, SummaryQuery(filter=UsageFilter(deployment="east", credential="a"), group_by="key_id")
    )
    assert [(row.group, row.prompt_tokens) for row in one_key.rows] == [("k1", 1000)]
    errors = await _summary(nc, SummaryQuery(filter=UsageFilter(errors_only=True)))
    assert [row.requests for row in errors.rows] == [1]
    refused = await nc.request(
        contract.analytics_subject("summary"),
        contract.encode(SummaryQuery(group_by="request_id; DROP TABLE x")),
        timeout=10,
    )
    assert "group_by must be one of" in SummaryReply.model_validate_json(refused.data).error


async def test_audit_events_are_stored_once_and_filtered(
    js: tuple[Client, JetStreamContext], metering: ManagedProcess
) -> None:
    nc, stream = js
    actor = AuditActor(kind="bootstrap", id="bootstrap-token", roles=["admin"])
    events = [
        AuditEvent(
            event_id=f"tollway_keys-{n}",
            at_ms=START_MS + n,
            actor=actor,
            action="key.update" if n else "key.create",
            resource_type="key",
            resource_id="key_1",
            before=None if n == 0 else {"revoked_at": 0},
            after={"revoked_at": n},
        )
        for n in range(3)
    ]
    for event in [*events, events[1]]:
        await stream.publish(
            contract.AUDIT_SUBJECT,
            contract.encode(event),
            headers={contract.HEADER_MSG_ID: event.event_id},
        )
    found: list[AuditEvent] = []
    for _ in range(200):
        try:
            reply = await nc.request(
                contract.analytics_subject("audit"),
                contract.encode(AuditQuery(resource_id="key_1")),
                timeout=5,
            )
            found = AuditReply.model_validate_json(reply.data).events
        except nats.errors.NoRespondersError:
            found = []
        if len(found) >= 3:
            break
        await asyncio.sleep(0.1)
    assert [e.event_id for e in found] == [e.event_id for e in reversed(events)], "newest first"
    assert found[-1] == events[0]
    updates = await nc.request(
        contract.analytics_subject("audit"),
        contract.encode(AuditQuery(action="key.update", limit=1)),
        timeout=5,
    )
    assert [e.event_id for e in AuditReply.model_validate_json(updates.data).events] == [
        "tollway_keys-2"
    ]
