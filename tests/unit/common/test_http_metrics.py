"""HTTP request metrics: each request counted under its label set, however the series are
looked up, and a streaming series only once a stream has had a first event."""

from __future__ import annotations

import uuid

import pytest
from prometheus_client import REGISTRY
from starlette.types import Message, Receive, Scope, Send

from tollway_common import http_metrics
from tollway_common.http_metrics import HttpMetricsMiddleware


def _app(status: int, content_type: bytes) -> HttpMetricsMiddleware:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", content_type)]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"data: {}\n\n"})

    return HttpMetricsMiddleware(app, fixed_routes=("/v1/chat/completions",))


async def _call(app: HttpMetricsMiddleware, model: str) -> None:
    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat/completions",
        "state": {http_metrics.MODEL_STATE_KEY: model},
    }

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        pass

    await app(scope, receive, send)


def _count(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def test_each_label_set_counts_its_own_requests() -> None:
    model = f"m-{uuid.uuid4().hex[:8]}"
    route = "/v1/chat/completions"
    ok, refused = _app(200, b"application/json"), _app(429, b"application/json")
    for app in (ok, ok, refused, ok):
        await _call(app, model)
    requests = "tollway_http_requests_total"
    assert _count(requests, route=route, method="POST", status="200", model=model) == 3
    assert _count(requests, route=route, method="POST", status="429", model=model) == 1
    durations = "tollway_http_request_duration_seconds_count"
    assert _count(durations, route=route, model=model) == 4
    assert _count("tollway_time_to_first_token_seconds_count", route=route, model=model) is None


async def test_a_stream_observes_its_first_event() -> None:
    model = f"m-{uuid.uuid4().hex[:8]}"
    stream = _app(200, b"text/event-stream")
    await _call(stream, model)
    await _call(stream, model)
    first_events = "tollway_time_to_first_token_seconds_count"
    assert _count(first_events, route="/v1/chat/completions", model=model) == 2


async def test_counts_stay_right_when_the_remembered_series_are_forgotten(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(http_metrics, "_MAX_REMEMBERED", 1)
    first, second = f"m-{uuid.uuid4().hex[:8]}", f"m-{uuid.uuid4().hex[:8]}"
    app = _app(200, b"application/json")
    for model in (first, second, first, second, first):
        await _call(app, model)
    requests = "tollway_http_requests_total"
    route = "/v1/chat/completions"
    assert _count(requests, route=route, method="POST", status="200", model=first) == 3
    assert _count(requests, route=route, method="POST", status="200", model=second) == 2
