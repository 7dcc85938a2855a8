"""Request metrics of the HTTP services (edge, admin) as ASGI middleware, and their `/metrics`
route (needs the `http` extra).

Labels stay bounded whatever clients send: the route is the matched route's template (or one
of the fixed routes the edge serves ahead of FastAPI), never the raw path, and the model is the
alias the edge resolved (empty when none was), never the client's string.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path
from typing import Any, TypeVar

from prometheus_client import Counter, Gauge, Histogram
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tollway_common import metrics

# The key under which a request's resolved model alias sits in the ASGI scope's state.
MODEL_STATE_KEY = "model"
UNMATCHED_ROUTE = "unmatched"

REQUESTS = Counter(
    "tollway_http_requests",
    "HTTP requests answered, by route template, method, status and model alias.",
    ["route", "method", "status", "model"],
)
DURATION = Histogram(
    "tollway_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response (streams: the last event).",
    ["route", "model"],
    buckets=metrics.LATENCY_BUCKETS,
)
TIME_TO_FIRST_TOKEN = Histogram(
    "tollway_time_to_first_token_seconds",
    "Streamed responses: time from the request's arrival to its first event, as the client sees.",
    ["route", "model"],
    buckets=metrics.LATENCY_BUCKETS,
)
IN_FLIGHT = Gauge(
    "tollway_http_requests_in_flight",
    "HTTP requests being served now (streams until their last event).",
    multiprocess_mode="livesum",
)

_EVENT_STREAM = b"text/event-stream"


_Metric = TypeVar("_Metric", Counter, Histogram)
# Label sets remembered at most (they are bounded anyway: see the module docstring).
_MAX_REMEMBERED = 4096


class HttpMetricsMiddleware:
    def __init__(self, app: ASGIApp, fixed_routes: Collection[str] = ()) -> None:
        self.app = app
        self._fixed_routes = frozenset(fixed_routes)
        # `labels()` takes a lock and builds its key on every call: each label set's series
        # is looked up once.
        self._counts: dict[tuple[str, str, int, str], Counter] = {}
        self._durations: dict[tuple[str, str], Histogram] = {}
        self._first_events: dict[tuple[str, str], Histogram] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        first_event_at = 0.0
        streaming = False

        async def observing_send(message: Message) -> None:
            nonlocal status, streaming, first_event_at
            if message["type"] == "http.response.start":
                status = message["status"]
                streaming = any(
                    name == b"content-type" and value.startswith(_EVENT_STREAM)
                    for name, value in message.get("headers", ())
                )
            elif streaming and not first_event_at and message.get("body"):
                first_event_at = time.perf_counter()
            await send(message)

        IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, observing_send)
        finally:
            IN_FLIGHT.dec()
            route = self._route(scope)
            model = scope.get("state", {}).get(MODEL_STATE_KEY, "")
            _series(self._counts, REQUESTS, (route, scope["method"], status, model)).inc()
            duration = _series(self._durations, DURATION, (route, model))
            duration.observe(time.perf_counter() - started)
            if first_event_at:
                first_event = _series(self._first_events, TIME_TO_FIRST_TOKEN, (route, model))
                first_event.observe(first_event_at - started)

    def _route(self, scope: Scope) -> str:
        route = scope.get("route")
        path = getattr(route, "path", None)
        if isinstance(path, str):
            return path
        if scope["path"] in self._fixed_routes:
            return str(scope["path"])
        return UNMATCHED_ROUTE


def _series(remembered: dict[Any, _Metric], metric: _Metric, labels: tuple[Any, ...]) -> _Metric:
    series = remembered.get(labels)
    if series is None:
        if len(remembered) >= _MAX_REMEMBERED:
            remembered.clear()
        series = remembered[labels] = metric.labels(*map(str, labels))
    return series


def metrics_endpoint(
    multiprocess_dir: Path | None = None,
) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette/FastAPI endpoint serving this process's metrics (or every worker's)."""

    async def serve_metrics(request: Request) -> Response:
        body, content_type = metrics.exposition(multiprocess_dir)
        return Response(body, headers={"content-type": content_type})

    return serve_metrics
