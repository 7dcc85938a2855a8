"""OpenAI Responses requests through the router's Responses-over-chat translation, as the router
runs it for a deployment that does not serve Responses natively, and what comes back, checked
against OpenAI's published schema and the locked openai SDK's own types, and read by the SDK's
stream accumulator.

`adapter` in these helpers is a provider's own chat adapter from `REGISTRY`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import httpx2
import openai
import orjson
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from tests.support.openai_schema import _SPEC as OPENAI_SPEC
from tests.support.openai_schema import validate_openai, validate_openai_request
from tollway_common.contract import (
    Endpoint,
    InferRequest,
    Principal,
    RequestFacts,
    ResolvedRoute,
)
from tollway_common.control import Deployment
from tollway_common.providers import Provider
from tollway_router.dialects.responses_adapter import responses_over_chat
from tollway_router.providers import REGISTRY
from tollway_router.providers.adapter import Adapter, ChunkOut
from tollway_router.upstream import demo_server
from tollway_router.upstream.sse_decoder import SseDecoder

OPENAI_WIRE = (Provider.OPENAI, Provider.AZURE_OPENAI, Provider.FAKE)
CHAT_ADAPTERS = [REGISTRY[provider] for provider in OPENAI_WIRE]
ADAPTER_IDS = [provider.value for provider in OPENAI_WIRE]
FAKE = REGISTRY[Provider.FAKE]
ANTHROPIC = REGISTRY[Provider.ANTHROPIC]
UPSTREAM_MODEL = "upstream-model"
STREAM_EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)

Event = tuple[str, dict[str, Any]]


def _event_schemas() -> dict[str, str]:
    """Each stream event type -> the spec's schema for it (validating against the one schema
    names what is wrong; against the whole union says only that nothing matched)."""
    schemas = OPENAI_SPEC.registry().contents(OPENAI_SPEC.uri)["components"]["schemas"]
    names = [ref["$ref"].rsplit("/", 1)[1] for ref in schemas["ResponseStreamEvent"]["anyOf"]]
    return {schemas[name]["properties"]["type"]["enum"][0]: name for name in names}


EVENT_SCHEMAS = _event_schemas()


def facts_of(body: Mapping[str, Any]) -> RequestFacts:
    """The facts the edge reads from a Responses body: max_output_tokens bounds the answer."""
    bound = body.get("max_output_tokens")
    usable = isinstance(bound, int) and not isinstance(bound, bool) and bound > 0
    return RequestFacts(max_tokens=bound if usable else None)


def infer_for(body: Mapping[str, Any]) -> InferRequest:
    """The request as the router gets it. The endpoint is chat's: the translation ignores it,
    and the Responses endpoint value is added where the edge routes are wired."""
    now_ms = int(time.time() * 1000)
    return InferRequest(
        request_id="req-responses",
        endpoint=Endpoint.CHAT_COMPLETIONS,
        principal=Principal(key_id="k1"),
        route=ResolvedRoute(alias=str(body.get("model", "m"))),
        received_at_ms=now_ms,
        deadline_ms=now_ms + 30_000,
        stream=bool(body.get("stream")),
        body=dict(body),
        facts=facts_of(body),
    )


def deployment_for(provider: Provider) -> Deployment:
    return Deployment(name="d1", provider=provider, model=UPSTREAM_MODEL)


def translated(adapter: Adapter[Any], body: Mapping[str, Any]) -> Adapter[Any]:
    return responses_over_chat(adapter, infer_for(body), deployment_for(adapter.type))


def upstream_body(adapter: Adapter[Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """The body the deployment receives, in its own wire format."""
    call = translated(adapter, body).build_request(
        Endpoint.CHAT_COMPLETIONS, body, facts_of(body), deployment_for(adapter.type)
    )
    sent: dict[str, Any] = orjson.loads(call.body)
    return sent


def chat_request(adapter: Adapter[Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """The chat body an OpenAI-wire deployment receives, checked against OpenAI's spec."""
    chat = upstream_body(adapter, body)
    validate_openai_request(Endpoint.CHAT_COMPLETIONS, chat)
    return chat


def check_response(response: Mapping[str, Any]) -> Response:
    """A Response checked against OpenAI's spec and the SDK's own type."""
    validate_openai("Response", response)
    return Response.model_validate(response)


def response_for(adapter: Adapter[Any], body: Mapping[str, Any], completion: bytes) -> Any:
    """The Response a chat completion becomes (checked), and the usage the router meters."""
    parsed = translated(adapter, body).parse_response(
        Endpoint.CHAT_COMPLETIONS, completion, deployment_for(adapter.type)
    )
    response = orjson.loads(parsed.body)
    check_response(response)
    return response, parsed.usage


def replay(adapter: Adapter[Any], body: Mapping[str, Any], sse: bytes) -> list[ChunkOut]:
    """What the router publishes for a recorded stream, in order; the stream must end."""
    wrapped = translated(adapter, body)
    state = wrapped.new_stream_state()
    decoder = SseDecoder()
    out = [
        chunk for event in decoder.feed(sse) for chunk in wrapped.parse_stream_event(event, state)
    ]
    assert wrapped.stream_complete(state), "the stream ended without response.completed"
    return out


def demo_stream(body: Mapping[str, Any]) -> bytes:
    """The demo provider's answer to the chat request `body` becomes: a real chat stream."""
    chat = upstream_body(FAKE, body)
    return demo_server.sse_bytes(demo_server.respond("/chat/completions", chat).events)


def events_of(chunks: list[ChunkOut]) -> list[Event]:
    """Each chunk as one Responses SSE event, checked against OpenAI's spec and the SDK's
    `ResponseStreamEvent` union."""
    events: list[Event] = []
    for chunk in chunks:
        [event] = SseDecoder().feed(chunk.data)
        assert event.event is not None, "every Responses event names its type"
        body = orjson.loads(event.data)
        assert body["type"] == event.event
        validate_openai(EVENT_SCHEMAS[body["type"]], body)
        STREAM_EVENTS.validate_python(body)
        events.append((event.event, body))
    return events


def _sdk_client(serve: Any) -> openai.OpenAI:
    http = httpx2.Client(transport=httpx2.MockTransport(serve))
    return openai.OpenAI(api_key="k", base_url="http://gateway.test/v1", http_client=http)


def sdk_request_body(**params: Any) -> dict[str, Any]:
    """The JSON body the openai SDK's `responses.create(**params)` sends."""
    sent: list[dict[str, Any]] = []
    answer = {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "model": "m",
        "output": [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
    }

    def serve(request: httpx2.Request) -> httpx2.Response:
        sent.append(orjson.loads(request.content))
        return httpx2.Response(200, content=orjson.dumps(answer))

    _sdk_client(serve).responses.create(**params)
    [body] = sent
    return body


def sdk_response(response: Mapping[str, Any]) -> Response:
    """A Response as the openai SDK's `responses.create` returns it to the client."""

    def serve(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=orjson.dumps(response))

    return _sdk_client(serve).responses.create(model="m", input="hi")


def sdk_final_response(chunks: list[ChunkOut], **params: Any) -> Response:
    """The published chunks read by the openai SDK's own stream accumulator (served to it over
    an in-memory transport, as the edge writes them)."""
    stream = b"".join(chunk.data for chunk in chunks)

    def serve(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=stream, headers={"content-type": "text/event-stream"})

    with _sdk_client(serve).responses.stream(**({"model": "m", "input": "hi"} | params)) as events:
        for _ in events:
            pass
        return events.get_final_response()
