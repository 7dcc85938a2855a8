"""Server spans of the HTTP services (needs the `http` extra): FastAPI's own instrumentation for
the app's routes, and its ASGI middleware in front of the routes the edge serves ahead of
FastAPI. While tracing is off nothing is wrapped, so requests pay nothing for it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.trace import Span
from starlette.types import ASGIApp

from tollway_common import tracing

# Probes and scrapes are not worth a span each.
_EXCLUDED_URLS = "/healthz,/readyz,/metrics"
# One span per request, not one more per ASGI message: a stream sends hundreds.
_EXCLUDED_SPANS: list[Any] = ["receive", "send"]


def instrument_fastapi(app: FastAPI) -> None:
    if tracing.enabled():
        FastAPIInstrumentor.instrument_app(
            app,
            excluded_urls=_EXCLUDED_URLS,
            exclude_spans=_EXCLUDED_SPANS,
            server_request_hook=_tag_request_id,
        )


def traced(app: ASGIApp) -> ASGIApp:
    """`app` inside a server span per request, named after its (fixed) path."""
    if not tracing.enabled():
        return app
    return OpenTelemetryMiddleware(
        app,
        excluded_urls=_EXCLUDED_URLS,
        default_span_details=_fixed_route_span,
        server_request_hook=_tag_request_id,
        exclude_spans=_EXCLUDED_SPANS,
    )


def _fixed_route_span(scope: dict[str, Any]) -> tuple[str, dict[str, str]]:
    path = str(scope["path"])
    return f"{scope['method']} {path}", {"http.route": path}


def _tag_request_id(span: Span, scope: dict[str, Any]) -> None:
    # The request-id middleware runs first where it is outermost (the edge); where the tracing
    # middleware is outermost (admin), the request-id middleware tags the span itself.
    request_id = scope.get("state", {}).get("request_id")
    if request_id and span.is_recording():
        span.set_attribute(tracing.REQUEST_ID_ATTRIBUTE, request_id)
