"""Anthropic's Messages API served natively (`Endpoint.MESSAGES` and
`MESSAGES_COUNT_TOKENS` on Anthropic and Foundry deployments): the client's body goes upstream
as it came, with only `model` replaced by the deployment's, so thinking blocks and their
signatures, `cache_control`, documents, citations, server tools and tool turns arrive
untouched. The reply and every stream event come back as Anthropic sent them, read only for
usage (input, output, cache read and cache creation tokens) and errors.

The `anthropic-beta` values the client sent travel only where the deployment allows them
(`Deployment.anthropic_betas`, exact values or globs); the rest are dropped, since a client
such as Claude Code sends several and refusing the request would break it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

import orjson

from tollway_common.anthropic_sse import frame
from tollway_common.contract import Endpoint, RequestFacts, Usage
from tollway_common.control import Deployment
from tollway_common.errors import InvalidRequest, UpstreamUnavailable
from tollway_common.providers import Provider
from tollway_router.providers.adapter import Adapter, ChunkOut, HttpCall, ParsedResponse, SseEvent
from tollway_router.providers.anthropic.errors import error_event, parse_error
from tollway_router.providers.anthropic.request import API_VERSION
from tollway_router.providers.anthropic.response import load_object, to_usage

MESSAGES_PATH = "/v1/messages"
COUNT_TOKENS_PATH = "/v1/messages/count_tokens"
BETA_HEADER = "anthropic-beta"
_PATHS = {Endpoint.MESSAGES: MESSAGES_PATH, Endpoint.MESSAGES_COUNT_TOKENS: COUNT_TOKENS_PATH}
# Events read for usage or errors; the rest (the content deltas, most of a stream) are
# relayed without being parsed.
_READ = frozenset({"message_start", "message_delta", "error"})


def allowed_betas(asked: tuple[str, ...], target: Deployment) -> list[str]:
    """The deployment's own `anthropic-beta` header values, then the client's it allows."""
    sent = [
        value.strip()
        for name, header in target.headers.items()
        if name.lower() == BETA_HEADER
        for value in header.split(",")
        if value.strip()
    ]
    for beta in asked:
        allowed = any(fnmatchcase(beta, pattern) for pattern in target.anthropic_betas)
        if allowed and beta not in sent:
            sent.append(beta)
    return sent


def build_request(
    endpoint: Endpoint, body: Mapping[str, Any], facts: RequestFacts, target: Deployment
) -> HttpCall:
    path = _PATHS.get(endpoint)
    if path is None:
        raise InvalidRequest(
            f"Deployment '{target.name}' serves the Messages API natively, not {endpoint.value}.",
            param="model",
        )
    headers = {"anthropic-version": API_VERSION}
    betas = allowed_betas(facts.betas, target)
    if betas:
        headers[BETA_HEADER] = ",".join(betas)
    stream = endpoint is Endpoint.MESSAGES and body.get("stream") is True
    upstream = {**body, "model": target.model}
    return HttpCall(
        method="POST", path=path, body=orjson.dumps(upstream), stream=stream, headers=headers
    )


def parse_response(endpoint: Endpoint, body: bytes, target: Deployment) -> ParsedResponse:
    reply = load_object(body, f"deployment '{target.name}' a reply")
    if reply.get("type") == "error":
        raise error_event(reply)
    if endpoint is Endpoint.MESSAGES_COUNT_TOKENS:
        if not isinstance(reply.get("input_tokens"), int):
            raise UpstreamUnavailable(
                f"Deployment '{target.name}' sent a token count without input_tokens."
            )
        # Counting tokens is free: nothing is billed for it.
        return ParsedResponse(body=body, usage=Usage(), upstream_model=target.model)
    model = str(reply.get("model") or target.model)
    return ParsedResponse(body=body, usage=to_usage(reply.get("usage")), upstream_model=model)


@dataclass
class NativeStreamState:
    # Anthropic's usage counters as they stand (message_start's, updated by message_delta).
    usage: dict[str, Any] = field(default_factory=dict)
    done: bool = False


def new_stream_state() -> NativeStreamState:
    return NativeStreamState()


def parse_stream_event(event: SseEvent, state: NativeStreamState) -> list[ChunkOut]:
    kind = event.event or str(load_object(event.data, "a stream event").get("type", ""))
    out = frame(kind, event.data.encode())
    if kind == "message_stop":
        state.done = True
        return [ChunkOut(data=out, usage=to_usage(state.usage))]
    if kind not in _READ:
        # A delta's size stands in for its text, used only if the stream stops before usage.
        chars = len(event.data) if kind == "content_block_delta" else 0
        return [ChunkOut(data=out, output_chars=chars)]
    payload = load_object(event.data, "a stream event")
    if kind == "error":
        raise error_event(payload)
    if kind == "message_start":
        message = payload.get("message")
        usage = message.get("usage") if isinstance(message, dict) else None
        state.usage = dict(usage) if isinstance(usage, dict) else {}
        return [ChunkOut(data=out)]
    # message_delta: counts are cumulative; newer API versions repeat the input counts too.
    usage = payload.get("usage")
    if isinstance(usage, dict):
        state.usage.update({key: value for key, value in usage.items() if value is not None})
    return [ChunkOut(data=out, usage=to_usage(state.usage))]


NATIVE_ADAPTER: Adapter[NativeStreamState] = Adapter(
    type=Provider.ANTHROPIC,
    build_request=build_request,
    parse_response=parse_response,
    new_stream_state=new_stream_state,
    parse_stream_event=parse_stream_event,
    parse_error=parse_error,
    stream_complete=lambda state: state.done,
    auth_header=lambda secret: ("x-api-key", secret),
)
