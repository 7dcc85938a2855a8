"""What operators watch, through the real stack: one trace from the edge through the router to
the upstream call and onto the usage row, `/metrics` on every service after real traffic, JSON
logs with request and trace ids and no secret, and health endpoints that tell the truth."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families
from tests.support.analytics import wait_for_usage
from tests.support.configs import LIMITED_KEY, TEST_KEY, UPSTREAM_SECRET, gateway_config
from tests.support.fake_openai_server import FakeOpenAIServer, Fault
from tests.support.openai_schema import validate_openai
from tests.support.otlp_collector import OtlpCollector, ReceivedSpan
from tests.support.stack import Stack

from tollway_cli.servers import NatsServer, RedisServer, free_port
from tollway_common.config_file import BootstrapKey
from tollway_common.control import Deployment, Limits, ModelAlias, Price, RetryPolicy

ADMIN_TOKEN = "tw-admin-observability-0123456789"
RATE_LIMITED_KEY = "sk-tollway-one-a-minute-0123456789"
CHAT = {"messages": [{"role": "user", "content": "hello there"}]}


@dataclass
class Observed:
    stack: Stack
    upstream: FakeOpenAIServer
    collector: OtlpCollector
    admin_url: str
    router_monitor: str
    metering_monitor: str
    # Requests the edge admitted: its refusals never reach the router, so carry no usage event.
    request_ids: list[str]


def _config(tmp_path: Path, upstream: FakeOpenAIServer) -> Any:
    base = gateway_config(tmp_path, upstream.base_url)
    (tmp_path / "secrets" / "one-a-minute").write_text(RATE_LIMITED_KEY)
    unreachable = ModelAlias(
        name="falls-back",
        fallbacks=["tollway-demo"],
        retry=RetryPolicy(max_attempts=1),
        deployments=[
            Deployment(
                name="nowhere",
                provider="openai",
                model="gpt-4o-mini",
                api_base=f"http://127.0.0.1:{free_port()}/v1",
            )
        ],
    )
    return base.model_copy(
        update={
            "models": [*base.models, unreachable],
            "prices": [
                Price(model="tollway-demo", input_per_mtok=Decimal(2), output_per_mtok=Decimal(4))
            ],
            "keys": [
                *base.keys,
                BootstrapKey(
                    name="one-a-minute",
                    secret=f"file:{tmp_path / 'secrets' / 'one-a-minute'}",
                    limits=Limits(rpm=1),
                ),
            ],
        }
    )


@pytest.fixture
def observed(
    tmp_path: Path, nats_server: NatsServer, redis_server: RedisServer
) -> Iterator[Observed]:
    tracing = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    with FakeOpenAIServer() as upstream, OtlpCollector() as collector:
        tracing["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.endpoint
        stack = Stack(nats=nats_server, redis=redis_server, workdir=tmp_path)
        try:
            stack.apply(_config(tmp_path, upstream))
            router_port, metering_port = free_port(), free_port()
            stack.start_router(
                TOLLWAY_ROUTER_MONITOR__ENABLED="true",
                TOLLWAY_ROUTER_MONITOR__PORT=str(router_port),
                **tracing,
            )
            stack.start_metering(
                TOLLWAY_METERING_MONITOR__ENABLED="true",
                TOLLWAY_METERING_MONITOR__PORT=str(metering_port),
            )
            stack.start_edge(**tracing)
            admin_url = stack.start_admin(ADMIN_TOKEN)
            yield Observed(
                stack,
                upstream,
                collector,
                admin_url,
                f"http://127.0.0.1:{router_port}",
                f"http://127.0.0.1:{metering_port}",
                [],
            )
        finally:
            stack.stop()


async def _traffic(observed: Observed) -> None:
    """Plain and streamed answers, a retried upstream error, a fallback, a rate-limit refusal,
    an unpriced model: everything the metrics below must have seen."""
    auth = {"authorization": f"Bearer {TEST_KEY}"}
    async with httpx.AsyncClient(base_url=observed.stack.base_url, timeout=30) as client:

        async def chat(model: str, key_auth: dict[str, str] = auth, **extra: Any) -> int:
            body = {**CHAT, "model": model, **extra}
            response = await client.post("/chat/completions", json=body, headers=key_auth)
            if response.status_code == 200:
                observed.request_ids.append(response.headers["x-request-id"])
            return response.status_code

        assert await chat("tollway-demo") == 200
        assert await chat("tollway-demo", stream=True) == 200
        observed.upstream.fault = Fault(kind="status", status=500, times=1)
        assert await chat("gpt-test") == 200  # retried once on the same deployment
        assert await chat("falls-back") == 200
        limited = {"authorization": f"Bearer {RATE_LIMITED_KEY}"}
        assert [await chat("tollway-demo", limited) for _ in range(2)] == [200, 429]
        policy_refused = {"authorization": f"Bearer {LIMITED_KEY}"}
        assert await chat("gpt-test", policy_refused) == 403
        assert await chat("a-model-a-client-made-up") == 404


def _samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return found


def _value(
    samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str
) -> float:
    return sum(
        value
        for found, value in samples.get(name, [])
        if all(found.get(k) == v for k, v in labels.items())
    )


async def _scrape(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"{url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return _samples(response.text)


async def _scrape_once_stored(
    url: str, events: int
) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Metering acks after its insert, so the usage stream can hold an event whose row (and
    counters) are a moment away: scrape until every event of the traffic is stored."""
    async with asyncio.timeout(20):
        while True:
            samples = await _scrape(url)
            if _value(samples, "tollway_metering_events_stored_total", feed="usage") >= events:
                return samples
            await asyncio.sleep(0.1)


async def test_metrics_on_every_service_show_the_traffic_with_bounded_labels(
    observed: Observed,
) -> None:
    await _traffic(observed)
    await wait_for_usage(observed.stack.nats.url_as("test"), observed.request_ids)

    edge = await _scrape(observed.stack.edge_metrics_url)
    async with httpx.AsyncClient() as client:
        public = await client.get(f"{observed.stack.edge_url}/metrics")
    assert public.status_code == 404, "the public API port serves no metrics"
    validate_openai("ErrorResponse", public.json())
    route = "/v1/chat/completions"
    assert _value(edge, "tollway_http_requests_total", route=route, status="200") == 5
    assert _value(edge, "tollway_http_requests_total", route=route, status="429") == 1
    assert _value(edge, "tollway_http_requests_total", route=route, model="tollway-demo") == 4
    assert _value(edge, "tollway_http_request_duration_seconds_count", route=route) == 8
    assert _value(edge, "tollway_time_to_first_token_seconds_count", model="tollway-demo") == 1
    # Every request above has ended (the scrape goes to the metrics port, not the API).
    assert _value(edge, "tollway_http_requests_in_flight") == 0
    assert _value(edge, "tollway_limit_refusals_total", dimension="requests", level="key") == 1
    assert _value(edge, "tollway_nats_connected") == 1
    assert _value(edge, "tollway_redis_connected") == 1

    router = await _scrape(observed.router_monitor)
    assert _value(router, "tollway_router_requests_total", model="tollway-demo") >= 3
    assert (
        _value(router, "tollway_router_retries_total", model="gpt-test", reason="upstream_error")
        == 1
    )
    assert (
        _value(
            router,
            "tollway_router_fallbacks_total",
            model="falls-back",
            from_model="falls-back",
            to_model="tollway-demo",
        )
        == 1
    )
    assert _value(router, "tollway_upstream_latency_seconds_count", model="gpt-test") == 1
    assert _value(router, "tollway_upstream_time_to_first_token_seconds_count") >= 1
    assert _value(router, "tollway_deployment_state", deployment="fake-openai", state="active") == 1
    assert _value(router, "tollway_nats_connected") == 1

    metering = await _scrape_once_stored(observed.metering_monitor, len(observed.request_ids))
    assert _value(metering, "tollway_tokens_total", model="tollway-demo", kind="prompt") > 0
    assert _value(metering, "tollway_cost_total", model="tollway-demo", currency="USD") > 0
    assert _value(metering, "tollway_unpriced_requests_total", model="gpt-test") == 1
    assert _value(metering, "tollway_metering_batch_size_count", feed="usage") >= 1
    assert "tollway_metering_consumer_pending" in metering
    assert _value(metering, "tollway_warehouse_up") == 1

    admin = await _scrape(observed.admin_url)
    assert _value(admin, "tollway_http_requests_total", route="/readyz", status="200") >= 1
    # Model labels are configured aliases only, never what a client typed.
    aliases = {model.name for model in _config(observed.stack.workdir, observed.upstream).models}
    for samples in (edge, router, metering, admin):
        models = {labels.get("model") for series in samples.values() for labels, _ in series}
        assert models <= {None, "", *aliases}, models


def _by_trace(spans: list[ReceivedSpan], trace_id: str) -> list[ReceivedSpan]:
    return [span for span in spans if span.trace_id == trace_id]


async def test_a_trace_started_at_the_edge_continues_in_the_router_and_onto_the_usage_row(
    observed: Observed,
) -> None:
    auth = {"authorization": f"Bearer {TEST_KEY}"}
    async with httpx.AsyncClient(base_url=observed.stack.base_url, timeout=30) as client:
        response = await client.post(
            "/chat/completions", json={**CHAT, "model": "gpt-test"}, headers=auth
        )
    assert response.status_code == 200
    request_id = response.headers["x-request-id"]
    (row,) = await wait_for_usage(observed.stack.nats.url_as("test"), [request_id])

    spans: list[ReceivedSpan] = []
    for _ in range(100):
        spans = _by_trace(observed.collector.received(), row.trace_id)
        if {s.service for s in spans} >= {"tollway-edge", "tollway-router"} and any(
            "gen_ai.operation.name" in s.attributes for s in spans
        ):
            break
        await asyncio.sleep(0.1)
    assert len(row.trace_id) == 32
    by_id = {span.span_id: span for span in spans}
    edge_spans = [s for s in spans if s.service == "tollway-edge"]
    (upstream,) = [s for s in spans if "gen_ai.operation.name" in s.attributes]
    assert upstream.service == "tollway-router"
    ancestors = []
    span: ReceivedSpan | None = upstream
    while span is not None:
        ancestors.append(span)
        span = by_id.get(span.parent_span_id)
    assert any(s in edge_spans for s in ancestors), "the router's spans hang under the edge's"
    assert ancestors[-1].service == "tollway-edge"
    assert not ancestors[-1].parent_span_id
    assert upstream.attributes["gen_ai.operation.name"] == "chat"
    assert upstream.attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert upstream.attributes["gen_ai.usage.input_tokens"] > 0
    assert upstream.attributes["gen_ai.usage.output_tokens"] > 0
    assert any(s.attributes.get("tollway.request_id") == request_id for s in spans)


async def test_logs_are_json_with_request_and_trace_ids_and_never_a_secret(
    observed: Observed,
) -> None:
    await _traffic(observed)
    await wait_for_usage(observed.stack.nats.url_as("test"), observed.request_ids)
    logs = observed.stack.logs()
    for secret in (TEST_KEY, LIMITED_KEY, RATE_LIMITED_KEY, UPSTREAM_SECRET, ADMIN_TOKEN):
        assert secret not in logs
    entries = [orjson.loads(line) for line in logs.splitlines() if line.startswith("{")]
    assert len(entries) > 10
    assert all({"ts", "level", "service", "msg"} <= entry.keys() for entry in entries)
    failed = [e for e in entries if e["msg"] == "upstream attempt failed"]
    assert failed, "the retried and the fallen-back requests logged their failed attempts"
    for entry in failed:
        assert entry["request_id"] in observed.request_ids
        assert len(entry["trace_id"]) == 32


async def test_router_and_metering_health_endpoints_follow_their_dependencies(
    observed: Observed,
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for monitor in (observed.router_monitor, observed.metering_monitor):
            assert (await client.get(f"{monitor}/healthz")).status_code == 200
            ready = await client.get(f"{monitor}/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["status"] == "ready"
        observed.stack.nats.kill()
        for monitor in (observed.router_monitor, observed.metering_monitor):
            for _ in range(50):
                ready = await client.get(f"{monitor}/readyz")
                if ready.status_code == 503:
                    break
                await asyncio.sleep(0.1)
            assert ready.status_code == 503
            assert ready.json()["checks"]["nats"] is False
            assert (await client.get(f"{monitor}/healthz")).status_code == 200


async def test_edge_workers_share_one_metrics_exposition(
    tmp_path: Path, nats_server: NatsServer, redis_server: RedisServer
) -> None:
    """With several edge workers the scrape (answered by the edge's main process, on its metrics
    port) reports the requests of all of them (prometheus_client's multiprocess mode)."""
    requests = 40
    with FakeOpenAIServer() as upstream:
        stack = Stack(nats=nats_server, redis=redis_server, workdir=tmp_path)
        try:
            stack.apply(gateway_config(tmp_path, upstream.base_url))
            stack.start_router()
            metrics_dir = tmp_path / "edge-metrics"
            stack.start_edge(TOLLWAY_EDGE_WORKERS="2", TOLLWAY_EDGE_METRICS_DIR=str(metrics_dir))
            for _ in range(requests):
                # A new connection each time, so the kernel spreads them over the workers.
                async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
                    response = await client.post(
                        "/chat/completions",
                        json={**CHAT, "model": "tollway-demo"},
                        headers={"authorization": f"Bearer {TEST_KEY}"},
                    )
                    assert response.status_code == 200
            route = "/v1/chat/completions"
            served = _chat_requests_per_worker(metrics_dir, route)
            assert len(served) == 2, served
            assert all(served), f"both workers must serve: {served}"
            for _ in range(6):
                edge = await _scrape(stack.edge_metrics_url)
                assert _value(edge, "tollway_http_requests_total", route=route) == requests
                assert _value(edge, "tollway_http_requests_in_flight") == 0
                assert _value(edge, "tollway_nats_connected") == 1
        finally:
            stack.stop()


def _chat_requests_per_worker(metrics_dir: Path, route: str) -> list[float]:
    """What each worker process counted itself, read from its own multiprocess file."""
    counted: list[float] = []
    for path in sorted(metrics_dir.glob("counter_*.db")):
        counted.append(
            sum(
                value
                for key, value, _, _ in MmapedDict.read_all_values_from_file(str(path))  # type: ignore[no-untyped-call]
                if (parsed := orjson.loads(key))[1] == "tollway_http_requests_total"
                and parsed[2].get("route") == route
            )
        )
    return counted
