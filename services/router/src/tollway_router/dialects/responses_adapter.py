"""OpenAI's Responses API served over a deployment's chat adapter, for every provider that does
not take Responses natively (`messages_adapter.adapter_for` picks it through `TRANSLATORS`).

Like Messages over chat: the wrapped adapter sends the request as chat (a stream asking for
usage, so metering stays exact) and turns the answer back into a `Response`, or a stream into
Responses SSE frames (`event:` and `data:`), one event per frame. Usage reaches the handler
on the closing frame (`response.completed` or `response.incomplete`), whose JSON holds the
whole Response: the response store reads the finished response from exactly that frame.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from tollway_common.anthropic_sse import frame
from tollway_common.contract import Endpoint, InferRequest, RequestFacts
from tollway_common.control import Deployment
from tollway_common.errors import InvalidRequest, UpstreamUnavailable
from tollway_router.dialects.responses_params import responses_param
from tollway_router.dialects.responses_request import to_chat
from tollway_router.dialects.responses_response import Asked, to_response
from tollway_router.dialects.responses_stream import Event, ResponsesStream
from tollway_router.providers.adapter import Adapter, ChunkOut, HttpCall, ParsedResponse, SseEvent


@dataclass(slots=True)
class _State:
    chat: Any
    responses: ResponsesStream
    # Output characters of chat chunks that made no event yet (the usage estimate counts them).
    chars: int = 0


def responses_over_chat(
    chat: Adapter[Any], infer: InferRequest, deployment: Deployment
) -> Adapter[_State]:
    asked = Asked.of(infer.body)

    def build_request(
        endpoint: Endpoint, body: Mapping[str, Any], facts: RequestFacts, target: Deployment
    ) -> HttpCall:
        return _chat_call(chat, body, facts, target)

    def parse_response(endpoint: Endpoint, body: bytes, target: Deployment) -> ParsedResponse:
        parsed = chat.parse_response(Endpoint.CHAT_COMPLETIONS, body, target)
        try:
            completion = orjson.loads(parsed.body)
        except orjson.JSONDecodeError as exc:
            raise UpstreamUnavailable(
                f"Deployment '{target.name}' answered with a body that is not JSON."
            ) from exc
        if not isinstance(completion, dict):
            raise UpstreamUnavailable(
                f"Deployment '{target.name}' answered with a body that is not a JSON object."
            )
        response = to_response(completion, parsed.usage, asked, target.name)
        return ParsedResponse(orjson.dumps(response), parsed.usage, parsed.upstream_model)

    def new_stream_state() -> _State:
        return _State(chat.new_stream_state(), ResponsesStream(asked, deployment.name))

    def parse_stream_event(event: SseEvent, state: _State) -> list[ChunkOut]:
        events: list[Event] = []
        for chunk in chat.parse_stream_event(event, state.chat):
            state.chars += chunk.output_chars
            events += state.responses.feed(orjson.loads(chunk.data), chunk.usage)
        closing = chat.stream_complete(state.chat) and not state.responses.finished
        if closing:
            events += state.responses.finish()
        frames = [frame(kind, orjson.dumps(body)) for kind, body in events]
        if not frames:
            return []
        out = [ChunkOut(data) for data in frames]
        out[0] = ChunkOut(frames[0], output_chars=state.chars)
        state.chars = 0
        if closing:
            # The usage rides on the closing event, which carries the whole Response.
            last = out[-1]
            out[-1] = ChunkOut(
                last.data, usage=state.responses.usage, output_chars=last.output_chars
            )
        return out

    def stream_complete(state: _State) -> bool:
        return state.responses.finished

    return Adapter(
        type=chat.type,
        build_request=build_request,
        parse_response=parse_response,
        new_stream_state=new_stream_state,
        parse_stream_event=parse_stream_event,
        parse_error=chat.parse_error,
        stream_complete=stream_complete,
        auth_header=chat.auth_header,
    )


def _chat_call(
    chat: Adapter[Any], body: Mapping[str, Any], facts: RequestFacts, target: Deployment
) -> HttpCall:
    request = to_chat(body, facts)  # its refusals name Responses fields already
    try:
        return chat.build_request(Endpoint.CHAT_COMPLETIONS, request, facts, target)
    except InvalidRequest as refused:
        # The client sent Responses fields, not the chat fields the adapter's refusal names.
        refused.param = responses_param(body, refused.param)
        raise
