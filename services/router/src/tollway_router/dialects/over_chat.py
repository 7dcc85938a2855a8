"""One client dialect served over a deployment's chat adapter: the wrapping that Messages over
chat and Responses over chat share. The dialect supplies how its request becomes chat, how a
chat completion becomes its answer, and its stream (chat chunks in, its own events out); this
module sends the call as chat, checks the body, frames each event as SSE and puts the usage on
the closing event, which is the only one that carries it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from tollway_common.anthropic_sse import frame
from tollway_common.contract import Endpoint, RequestFacts, Usage
from tollway_common.control import Deployment
from tollway_common.errors import UpstreamUnavailable
from tollway_router.providers.adapter import Adapter, ChunkOut, HttpCall, ParsedResponse, SseEvent

Event = tuple[str, dict[str, Any]]


class DialectStream(Protocol):
    """A dialect's stream state: fed chat chunks, it answers its own events."""

    finished: bool
    usage: Usage | None

    def feed(self, chunk: Mapping[str, Any], usage: Usage | None = None) -> list[Event]: ...

    def finish(self) -> list[Event]: ...


@dataclass(slots=True)
class _State:
    chat: Any
    dialect: DialectStream
    # Output characters of chat chunks that made no event yet (the usage estimate counts them).
    chars: int = 0


def over_chat(
    chat: Adapter[Any],
    *,
    build_call: Callable[[Mapping[str, Any], RequestFacts, Deployment], HttpCall],
    to_answer: Callable[[dict[str, Any], Usage | None, Deployment], dict[str, Any]],
    new_stream: Callable[[], DialectStream],
) -> Adapter[_State]:
    def build_request(
        endpoint: Endpoint, body: Mapping[str, Any], facts: RequestFacts, target: Deployment
    ) -> HttpCall:
        return build_call(body, facts, target)

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
        answer = to_answer(completion, parsed.usage, target)
        return ParsedResponse(orjson.dumps(answer), parsed.usage, parsed.upstream_model)

    def new_stream_state() -> _State:
        return _State(chat.new_stream_state(), new_stream())

    def parse_stream_event(event: SseEvent, state: _State) -> list[ChunkOut]:
        events: list[Event] = []
        for chunk in chat.parse_stream_event(event, state.chat):
            state.chars += chunk.output_chars
            events += state.dialect.feed(orjson.loads(chunk.data), chunk.usage)
        closing = chat.stream_complete(state.chat) and not state.dialect.finished
        if closing:
            events += state.dialect.finish()
        frames = [frame(kind, orjson.dumps(body)) for kind, body in events]
        if not frames:
            return []
        out = [ChunkOut(data) for data in frames]
        out[0] = ChunkOut(frames[0], output_chars=state.chars)
        state.chars = 0
        if closing:
            last = out[-1]
            out[-1] = ChunkOut(last.data, usage=state.dialect.usage, output_chars=last.output_chars)
        return out

    def stream_complete(state: _State) -> bool:
        return state.dialect.finished

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
