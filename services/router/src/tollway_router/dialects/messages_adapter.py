"""The adapter that serves a request on a deployment: the provider's own, or, for an endpoint
the provider serves only by translation (`ProviderFacts.translates`), its chat adapter wrapped
in the translation. The one place the router decides between the two (`routing/candidates.py`
asks it for every choice); pure, like the adapters it wraps.

For Anthropic Messages the wrapped adapter sends the request as chat (a stream asking for
usage, so metering stays exact) and turns the answer back into a `Message`, or a stream into
Anthropic SSE frames, one event per chunk. Usage reaches the handler on the chunk that carries
`message_stop`, never as a chat chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from tollway_common.anthropic_sse import frame
from tollway_common.contract import Endpoint, InferRequest, RequestFacts
from tollway_common.control import Deployment
from tollway_common.errors import UpstreamUnavailable
from tollway_common.providers import FACTS
from tollway_router import providers
from tollway_router.dialects.messages_request import to_chat
from tollway_router.dialects.messages_response import Asked, to_message
from tollway_router.dialects.messages_stream import Event, MessagesStream
from tollway_router.dialects.responses_adapter import responses_over_chat
from tollway_router.providers import REGISTRY
from tollway_router.providers.adapter import Adapter, ChunkOut, HttpCall, ParsedResponse, SseEvent


def adapter_for(deployment: Deployment, infer: InferRequest) -> Adapter[Any]:
    if not FACTS[deployment.provider].translates(infer.endpoint):
        # Served in the provider's own dialect: its adapter for that endpoint.
        return providers.adapter_for(deployment.provider, infer.endpoint)
    return TRANSLATORS[infer.endpoint](REGISTRY[deployment.provider], infer, deployment)


@dataclass(slots=True)
class _State:
    chat: Any
    messages: MessagesStream
    # Output characters of chat chunks that made no event yet (the usage estimate counts them).
    chars: int = 0


def messages_over_chat(
    chat: Adapter[Any], infer: InferRequest, deployment: Deployment
) -> Adapter[_State]:
    asked = Asked.of(infer.body)

    def build_request(
        endpoint: Endpoint, body: Mapping[str, Any], facts: RequestFacts, target: Deployment
    ) -> HttpCall:
        return chat.build_request(Endpoint.CHAT_COMPLETIONS, to_chat(body, facts), facts, target)

    def parse_response(endpoint: Endpoint, body: bytes, target: Deployment) -> ParsedResponse:
        parsed = chat.parse_response(Endpoint.CHAT_COMPLETIONS, body, target)
        try:
            completion = orjson.loads(parsed.body)
        except orjson.JSONDecodeError as exc:
            raise UpstreamUnavailable(
                f"Deployment '{target.name}' answered with a body that is not JSON."
            ) from exc
        message = to_message(completion, parsed.usage, asked, target.name)
        return ParsedResponse(orjson.dumps(message), parsed.usage, parsed.upstream_model)

    def new_stream_state() -> _State:
        return _State(chat.new_stream_state(), MessagesStream(asked, deployment.name))

    def parse_stream_event(event: SseEvent, state: _State) -> list[ChunkOut]:
        events: list[Event] = []
        for chunk in chat.parse_stream_event(event, state.chat):
            state.chars += chunk.output_chars
            events += state.messages.feed(orjson.loads(chunk.data), chunk.usage)
        closing = chat.stream_complete(state.chat) and not state.messages.finished
        if closing:
            events += state.messages.finish()
        frames = [frame(kind, orjson.dumps(body)) for kind, body in events]
        if not frames:
            return []
        out = [ChunkOut(data) for data in frames]
        out[0] = ChunkOut(frames[0], output_chars=state.chars)
        state.chars = 0
        if closing:
            # The usage rides on the last closing event (message_stop).
            last = out[-1]
            out[-1] = ChunkOut(
                last.data, usage=state.messages.usage, output_chars=last.output_chars
            )
        return out

    def stream_complete(state: _State) -> bool:
        return state.messages.finished

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


Translator = Callable[[Adapter[Any], InferRequest, Deployment], Adapter[Any]]
# One translator per endpoint `tollway_common.providers.TRANSLATED_OVER` names (a unit test
# keeps the two tables in step).
TRANSLATORS: dict[Endpoint, Translator] = {
    Endpoint.MESSAGES: messages_over_chat,
    Endpoint.RESPONSES: responses_over_chat,
}
