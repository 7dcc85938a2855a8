"""Anthropic Messages requests through the router's Messages-over-chat translation, as the
router runs it for an OpenAI-wire deployment, and what comes back, checked against Anthropic's
published schemas and read by the locked anthropic SDK.

`adapter` in these helpers is a provider's own chat adapter from `REGISTRY`; tests that take it
as a parameter named `adapter` credit their `proves` marks to that provider.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import anthropic
import httpx2
import orjson
from anthropic.types import Message

from tests.support.anthropic_schema import validate_anthropic, validate_anthropic_event
from tests.support.openai_schema import validate_openai_request
from tollway_common.contract import (
    Endpoint,
    InferRequest,
    Principal,
    RequestFacts,
    ResolvedRoute,
)
from tollway_common.control import Deployment
from tollway_common.providers import Provider
from tollway_router.dialects.messages_adapter import messages_over_chat
from tollway_router.providers import REGISTRY
from tollway_router.providers.adapter import Adapter, ChunkOut
from tollway_router.upstream.sse_decoder import SseDecoder

OPENAI_WIRE = (Provider.OPENAI, Provider.AZURE_OPENAI, Provider.FAKE)
CHAT_ADAPTERS = [REGISTRY[provider] for provider in OPENAI_WIRE]
ADAPTER_IDS = [provider.value for provider in OPENAI_WIRE]
UPSTREAM_MODEL = "upstream-model"

Event = tuple[str, dict[str, Any]]


def facts_of(body: Mapping[str, Any]) -> RequestFacts:
    """The facts the edge reads from a Messages body: its max_tokens bounds the answer."""
    bound = body.get("max_tokens")
    usable = isinstance(bound, int) and not isinstance(bound, bool) and bound > 0
    return RequestFacts(max_tokens=bound if usable else None)


def infer_for(body: Mapping[str, Any]) -> InferRequest:
    now_ms = int(time.time() * 1000)
    return InferRequest(
        request_id="req-messages",
        endpoint=Endpoint.MESSAGES,
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
    return messages_over_chat(adapter, infer_for(body), deployment_for(adapter.type))


def chat_request(adapter: Adapter[Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """The chat body the deployment receives, checked against OpenAI's request schema."""
    deployment = deployment_for(adapter.type)
    call = translated(adapter, body).build_request(
        Endpoint.MESSAGES, body, facts_of(body), deployment
    )
    chat: dict[str, Any] = orjson.loads(call.body)
    validate_openai_request(Endpoint.CHAT_COMPLETIONS, chat)
    return chat


def message_for(adapter: Adapter[Any], body: Mapping[str, Any], completion: bytes) -> Any:
    """The Message a chat completion becomes, checked against Anthropic's schema and the
    SDK's own type."""
    parsed = translated(adapter, body).parse_response(
        Endpoint.MESSAGES, completion, deployment_for(adapter.type)
    )
    message = orjson.loads(parsed.body)
    validate_anthropic("Message", message)
    Message.model_validate(message)
    return message


def replay(adapter: Adapter[Any], body: Mapping[str, Any], sse: bytes) -> list[ChunkOut]:
    """What the router publishes for a recorded chat stream, in order; the stream must end."""
    wrapped = translated(adapter, body)
    state = wrapped.new_stream_state()
    decoder = SseDecoder()
    out = [
        chunk for event in decoder.feed(sse) for chunk in wrapped.parse_stream_event(event, state)
    ]
    assert wrapped.stream_complete(state), "the stream ended without message_stop"
    return out


def events_of(chunks: list[ChunkOut]) -> list[Event]:
    """Each chunk as one Anthropic SSE event, checked against Anthropic's event schemas."""
    events: list[Event] = []
    for chunk in chunks:
        [event] = SseDecoder().feed(chunk.data)
        assert event.event is not None, "every Messages event names its type"
        body = orjson.loads(event.data)
        assert body["type"] == event.event
        validate_anthropic_event(body)
        events.append((event.event, body))
    return events


def _sdk_client(serve: Any) -> anthropic.Anthropic:
    http = httpx2.Client(transport=httpx2.MockTransport(serve))
    return anthropic.Anthropic(api_key="k", base_url="http://gateway.test", http_client=http)


def sdk_request_body(**params: Any) -> dict[str, Any]:
    """The JSON body the anthropic SDK's `messages.create(**params)` sends."""
    sent: list[dict[str, Any]] = []
    answer = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": [],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }

    def serve(request: httpx2.Request) -> httpx2.Response:
        sent.append(orjson.loads(request.content))
        return httpx2.Response(200, content=orjson.dumps(answer))

    _sdk_client(serve).messages.create(**params)
    [body] = sent
    return body


def sdk_final_message(chunks: list[ChunkOut]) -> Message:
    """The published chunks read by the anthropic SDK's own stream accumulator (served to it
    over an in-memory transport, as the edge writes them)."""
    stream = b"".join(chunk.data for chunk in chunks)

    def serve(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=stream, headers={"content-type": "text/event-stream"})

    with _sdk_client(serve).messages.stream(
        model="m", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    ) as events:
        return events.get_final_message()
