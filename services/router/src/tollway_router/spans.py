"""The router's spans: one per request it serves, a child of the edge's span through the trace
context in the NATS headers, and one per upstream call with the OpenTelemetry GenAI
semantic-convention attributes. Prompts and answers never go into a span.

With tracing off every helper hands back what it was given (or a shared no-op), so a request
pays for one check.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Coroutine, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from tollway_common import contract, tracing
from tollway_common.contract import Endpoint, InferRequest, RequestFacts, UsageEvent
from tollway_common.control import Deployment
from tollway_common.errors import TollwayError
from tollway_common.providers import FACTS
from tollway_router.usage import Outcome

_TRACER = trace.get_tracer("tollway.router")
_NO_SPAN: AbstractAsyncContextManager[None] = contextlib.nullcontext()

OPERATION = {
    Endpoint.CHAT_COMPLETIONS: "chat",
    Endpoint.COMPLETIONS: "text_completion",
    Endpoint.EMBEDDINGS: "embeddings",
    Endpoint.MODERATIONS: "moderation",
    # GenAI semantic conventions: Anthropic's Messages API is a chat operation.
    Endpoint.MESSAGES: "chat",
    # Not a GenAI operation of the conventions; named as Anthropic's API names it.
    Endpoint.MESSAGES_COUNT_TOKENS: "count_tokens",
    # OpenAI's Responses API generates a chat answer, as the conventions count it.
    Endpoint.RESPONSES: "chat",
    # No operations of the conventions either: named for what they do.
    Endpoint.IMAGES_GENERATIONS: "image_generation",
    Endpoint.IMAGES_EDITS: "image_edit",
    Endpoint.IMAGES_VARIATIONS: "image_variation",
    Endpoint.AUDIO_TRANSCRIPTIONS: "transcription",
    Endpoint.AUDIO_TRANSLATIONS: "translation",
    Endpoint.AUDIO_SPEECH: "speech",
    Endpoint.RERANK: "rerank",
}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def serving(infer: InferRequest, work: Coroutine[Any, Any, None]) -> Coroutine[Any, Any, None]:
    """`work` (serving `infer`) inside the router's span for the request."""
    if not tracing.enabled():
        return work
    return _serve_in_span(infer, work)


async def _serve_in_span(infer: InferRequest, work: Coroutine[Any, Any, None]) -> None:
    subject = contract.infer_subject(infer.endpoint)
    attributes = {
        "messaging.system": "nats",
        "messaging.operation.type": "process",
        "messaging.destination.name": subject,
        "messaging.consumer.group.name": contract.ROUTER_QUEUE_GROUP,
        tracing.REQUEST_ID_ATTRIBUTE: infer.request_id,
        "tollway.model_alias": infer.route.alias,
    }
    with _TRACER.start_as_current_span(
        f"process {subject}", kind=SpanKind.CONSUMER, attributes=attributes
    ):
        await work


def record_result(event: UsageEvent) -> None:
    """The finished request's status on the router's span (errors are replies, not raised)."""
    span = trace.get_current_span()
    if not span.is_recording():
        return
    span.set_attribute("tollway.status_code", event.status_code)
    if event.error_type:
        span.set_attribute("error.type", event.error_code or event.error_type)
    if event.status_code >= 500:
        span.set_status(StatusCode.ERROR, event.error_code or event.error_type)


def upstream_call(
    infer: InferRequest, deployment: Deployment, outcome: Outcome
) -> AbstractAsyncContextManager[None]:
    """A client span around one call to `deployment`; what `outcome` holds when it ends (the
    response model, the token usage) goes on the span."""
    if not tracing.enabled():
        return _NO_SPAN
    return _upstream_span(infer, deployment, outcome)


@asynccontextmanager
async def _upstream_span(
    infer: InferRequest, deployment: Deployment, outcome: Outcome
) -> AsyncIterator[None]:
    attributes = request_attributes(infer.endpoint, infer.body, infer.facts, deployment)
    name = f"{attributes['gen_ai.operation.name']} {deployment.model}"
    with _TRACER.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes) as span:
        try:
            yield
        except TollwayError as exc:
            span.set_attribute("error.type", exc.code_override or exc.code)
            raise
        except BaseException as exc:
            span.set_attribute("error.type", type(exc).__name__)
            raise
        finally:
            span.set_attributes(response_attributes(outcome))


def request_attributes(
    endpoint: Endpoint, body: Mapping[str, Any], facts: RequestFacts, deployment: Deployment
) -> dict[str, str | int | float]:
    provider = FACTS[deployment.provider].tracing_name
    attributes: dict[str, str | int | float] = {
        "gen_ai.operation.name": OPERATION[endpoint],
        "gen_ai.provider.name": provider,
        # The name older conventions and backends read.
        "gen_ai.system": provider,
        "gen_ai.request.model": deployment.model,
        "tollway.deployment": deployment.name,
    }
    if facts.max_tokens is not None:
        attributes["gen_ai.request.max_tokens"] = facts.max_tokens
    for field, attribute in (
        ("temperature", "gen_ai.request.temperature"),
        ("top_p", "gen_ai.request.top_p"),
    ):
        value = body.get(field)
        if isinstance(value, int | float) and not isinstance(value, bool):
            attributes[attribute] = value
    if deployment.api_base:
        url = urlsplit(deployment.api_base)
        if url.hostname:
            attributes["server.address"] = url.hostname
            port = url.port or _DEFAULT_PORTS.get(url.scheme)
            if port:
                attributes["server.port"] = port
    return attributes


def response_attributes(outcome: Outcome) -> dict[str, str | int]:
    attributes: dict[str, str | int] = {}
    if outcome.upstream_model:
        attributes["gen_ai.response.model"] = outcome.upstream_model
    usage = outcome.usage
    if usage is not None:
        attributes["gen_ai.usage.input_tokens"] = usage.prompt_tokens
        attributes["gen_ai.usage.output_tokens"] = usage.completion_tokens
        if usage.cached_read_tokens:
            attributes["gen_ai.usage.cache_read.input_tokens"] = usage.cached_read_tokens
        if usage.cache_write_tokens:
            attributes["gen_ai.usage.cache_creation.input_tokens"] = usage.cache_write_tokens
    return attributes
