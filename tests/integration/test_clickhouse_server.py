"""The warehouse against a real ClickHouse server (the compose image, with the compose config
mounted) in a container: migrations apply once, a redelivered batch is stored but counted once,
a summary matches the hand-computed answer, bodies keep their own retention; the server runs
with the compose memory limit and system-log TTLs.

Needs a Docker engine; where none answers, the module is skipped, saying why."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tollway_common.contract import (
    AnalyticsQuery,
    BodyEvent,
    BodyQuery,
    Endpoint,
    Principal,
    SummaryQuery,
    UsageEvent,
)
from tollway_common.ids import new_request_id
from tollway_metering.charges import UNPRICED, Charge
from tollway_metering.migrations import Retention, load_migrations
from tollway_metering.warehouse import Warehouse

pytestmark = pytest.mark.docker

COMPOSE_DIR = Path(__file__).parents[2] / "deploy/compose"
_PASSWORD = "tollway-test"
_HTTP_PORT = 8123


def _docker_engine_missing() -> str | None:
    """Why no Docker engine answers here, or None if one does: a `GET /_ping` on the socket
    (or TCP address) DOCKER_HOST names, without the Docker SDK, which would leave an unclosed
    socket (a warning, so an error here) when nothing listens."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    parts = urlsplit(host)
    try:
        if parts.scheme == "unix":
            if not Path(parts.path).exists():
                return f"no Docker engine: {parts.path} does not exist (DOCKER_HOST={host})"
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(3)
                sock.connect(parts.path)
                sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
                reply = sock.recv(64)
        elif parts.scheme == "tcp" and parts.hostname:
            with socket.create_connection((parts.hostname, parts.port or 2375), timeout=3) as sock:
                sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
                reply = sock.recv(64)
        else:
            return f"no Docker engine this test can reach at DOCKER_HOST={host}"
    except OSError as exc:
        return f"no Docker engine answers at {host}: {exc}"
    if b" 200 " not in reply:
        return f"the Docker engine at {host} did not answer its ping: {reply[:40]!r}"
    return None


_MISSING = _docker_engine_missing()
if _MISSING is not None:
    if os.environ.get("TOLLWAY_REQUIRE_DOCKER"):
        # CI (.github/workflows/ci.yml) has Docker: there a skip would hide the server path.
        pytest.fail(f"TOLLWAY_REQUIRE_DOCKER is set but {_MISSING}", pytrace=False)
    pytest.skip(_MISSING, allow_module_level=True)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, int]]:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import HttpWaitStrategy

    compose = yaml.safe_load((COMPOSE_DIR / "docker-compose.yml").read_text())
    image = compose["services"]["clickhouse"]["image"]
    container = (
        DockerContainer(image)
        .with_env("CLICKHOUSE_PASSWORD", _PASSWORD)
        .with_exposed_ports(_HTTP_PORT)
        .with_volume_mapping(
            str(COMPOSE_DIR / "clickhouse/config.d/tollway.xml"),
            "/etc/clickhouse-server/config.d/tollway.xml",
        )
        .with_volume_mapping(
            str(COMPOSE_DIR / "clickhouse/users.d/tollway.xml"),
            "/etc/clickhouse-server/users.d/tollway.xml",
        )
        .waiting_for(HttpWaitStrategy(_HTTP_PORT, "/ping").with_startup_timeout(180))
    )
    with container:
        yield container.get_container_host_ip(), int(container.get_exposed_port(_HTTP_PORT))


@pytest.fixture
async def warehouse(server: tuple[str, int]) -> AsyncIterator[Warehouse]:
    host, port = server
    dsn = f"http://default:{_PASSWORD}@{host}:{port}"
    database = f"tollway_{new_request_id().replace('-', '')[-12:]}"
    store = await Warehouse.open(dsn, database)
    try:
        yield store
    finally:
        await store.close()


def _event(index: int, team: str, prompt: int, completion: int) -> UsageEvent:
    return UsageEvent(
        request_id=new_request_id(),
        received_at_ms=int(time.time() * 1000) - 60_000 + index,
        endpoint=Endpoint.CHAT_COMPLETIONS,
        principal=Principal(key_id=f"k-{team}", team_id=team, org_id="acme"),
        model_alias="gpt",
        provider="openai",
        status_code=500 if index == 3 else 200,
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        latency_ms=100.0 * (index + 1),
    )


def _client(store: Warehouse) -> Any:
    return store._client


async def test_migrations_apply_once_and_a_redelivery_counts_once(warehouse: Warehouse) -> None:
    applied = await warehouse.migrate(Retention(usage_days=30, audit_days=30, body_days=7))
    assert applied == [migration.version for migration in load_migrations()]
    assert await warehouse.migrate(Retention(usage_days=30, audit_days=30, body_days=7)) == []

    events = [_event(i, "ml" if i < 3 else "web", 100 * (i + 1), 10) for i in range(4)]
    charges = [Charge(Decimal("0.001") * (i + 1), "USD", "v1", False) for i in range(3)] + [
        UNPRICED
    ]
    await warehouse.insert_usage(events, charges)
    await warehouse.insert_usage(events[:2], charges[:2])  # a redelivered batch

    database = warehouse._database
    raw = _client(warehouse).command(f"SELECT count() FROM {database}.usage_requests")
    assert int(raw) == 4, "a redelivered batch writes nothing"
    rows = await warehouse.query_usage(AnalyticsQuery(limit=100))
    assert sorted(row.request_id for row in rows) == sorted(e.request_id for e in events)

    summary = {
        row.group: row
        for row in await warehouse.summary(SummaryQuery(group_by="team_id", order_by="cost"))
    }
    assert (summary["ml"].requests, summary["ml"].errors) == (3, 0)
    assert Decimal(summary["ml"].cost) == Decimal("0.006")
    assert (summary["web"].requests, summary["web"].errors, summary["web"].unpriced_requests) == (
        1,
        1,
        1,
    )
    assert summary["ml"].prompt_tokens == 600
    assert summary["ml"].latency_p99_ms == 300.0


async def test_bodies_keep_their_own_retention_on_a_server(warehouse: Warehouse) -> None:
    await warehouse.migrate(Retention(body_days=7))
    body = BodyEvent(
        request_id="r-1",
        received_at_ms=int(time.time() * 1000),
        principal=Principal(key_id="k"),
        model_alias="gpt",
        endpoint=Endpoint.CHAT_COMPLETIONS,
        request_body='{"messages":"[REDACTED:email]"}',
        redactions={"email": 1},
    )
    await warehouse.insert_bodies([body, body])
    assert await warehouse.query_bodies(BodyQuery(request_ids=["r-1"])) == [body]
    await warehouse.migrate(Retention(body_days=2))
    engine = _client(warehouse).command(
        "SELECT engine_full FROM system.tables WHERE database = {db:String} "
        "AND name = 'request_bodies'",
        parameters={"db": warehouse._database},
    )
    assert "toIntervalDay(2)" in str(engine)


async def test_the_server_runs_with_the_compose_limits_and_log_ttls(warehouse: Warehouse) -> None:
    client = _client(warehouse)
    limit = client.command(
        "SELECT value FROM system.server_settings WHERE name = 'max_server_memory_usage'"
    )
    assert int(limit) == 1610612736
    await asyncio.to_thread(client.command, "SYSTEM FLUSH LOGS")
    engine = client.command(
        "SELECT engine_full FROM system.tables WHERE database = 'system' AND name = 'query_log'"
    )
    assert "toIntervalDay(7)" in str(engine)
