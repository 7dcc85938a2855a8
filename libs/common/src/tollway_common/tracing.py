"""OpenTelemetry in every service: tracing set up from the standard `OTEL_*` variables (off
unless they ask for it), W3C trace context carried in NATS headers, and the ids that logs and
usage events carry.

With tracing off no SDK tracer provider is installed, nothing creates spans, and the helpers
here cost a context-variable read (docs/adr/0010-observability.md).
"""

from __future__ import annotations

import atexit
import contextvars
import logging
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING

from opentelemetry import context, propagate, trace

from tollway_common.contract import HEADER_TRACEPARENT
from tollway_common.settings import OtelSettings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

log = logging.getLogger(__name__)

REQUEST_ID_ATTRIBUTE = "tollway.request_id"


def setup_tracing(service: str, settings: OtelSettings, version: str = "") -> bool:
    """Install an SDK tracer provider exporting spans in batches, if `settings` ask for it.

    Returns whether tracing is on. The service name is `tollway-<service>` unless
    `OTEL_SERVICE_NAME` or `OTEL_RESOURCE_ATTRIBUTES` name one.
    """
    exporters = [e for name in settings.exporters() if (e := _exporter(name, settings))]
    if not exporters:
        return False
    # Imported here: a process that does not trace never loads the SDK.
    from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({SERVICE_VERSION: version} if version else {})
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: f"tollway-{service}"}))
    provider = TracerProvider(resource=resource)
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    atexit.register(provider.shutdown)
    log.info("tracing on", extra={"exporters": settings.exporters()})
    return True


def _exporter(name: str, settings: OtelSettings) -> SpanExporter | None:
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if name != "otlp":
        log.warning("unknown OTEL_TRACES_EXPORTER %r ignored (otlp, console, none)", name)
        return None
    if settings.protocol != "http/protobuf":
        log.warning(
            "OTLP protocol %r is not installed; exporting with http/protobuf (the collector's "
            "port 4318)",
            settings.protocol,
        )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def enabled() -> bool:
    """Whether an SDK tracer provider is installed (by `setup_tracing`, or by the test)."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def inject(headers: MutableMapping[str, str]) -> None:
    """Add `traceparent` (and `tracestate`) of the current span to outgoing NATS headers."""
    if trace.get_current_span().get_span_context().is_valid:
        propagate.inject(headers)


def message_context(headers: Mapping[str, str] | None) -> contextvars.Context | None:
    """A context to run a message's work in, whose current span is the sender's, or None when
    the message carries no trace context (run it in a copy of the current context then).

    With tracing off in this process the sender's trace id still reaches what this work
    records (`current_trace_id`): the sender's span is current, as a non-recording span.
    """
    if not headers or HEADER_TRACEPARENT not in headers:
        return None
    run_in = contextvars.copy_context()
    run_in.run(context.attach, propagate.extract(headers))
    return run_in


def current_trace_id() -> str:
    """The current trace id as 32 hex digits, or "" outside a trace."""
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else ""


def current_ids() -> tuple[str, str]:
    """(trace id, span id) of the current span as hex, or ("", "") outside a trace."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return "", ""
    return format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")


def tag_request_id(request_id: str) -> None:
    """Put the request id (the client's `x-request-id`) on the current span, if it records."""
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attribute(REQUEST_ID_ATTRIBUTE, request_id)
