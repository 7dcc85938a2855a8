"""The endpoint the current task's Claude call was built for, read when its stream starts.

The adapter interface hands `new_stream_state` no endpoint (every branch builds on that
interface as it is), while a completions stream must come out as `text_completion` chunks
and a chat stream as `chat.completion.chunk`s. The router builds a call and reads its stream
in one task, so `build_request` notes a streaming call's endpoint in this task-local
variable and `new_stream_state` takes it (leaving chat behind, so nothing outlives the one
stream it was noted for); a stream no call was noted for is chat.
"""

from __future__ import annotations

from contextvars import ContextVar

from tollway_common.contract import Endpoint

_SERVED_ENDPOINT: ContextVar[Endpoint] = ContextVar(
    "anthropic_served_endpoint", default=Endpoint.CHAT_COMPLETIONS
)


def note_stream(endpoint: Endpoint) -> None:
    _SERVED_ENDPOINT.set(endpoint)


def take_stream_endpoint() -> Endpoint:
    endpoint = _SERVED_ENDPOINT.get()
    _SERVED_ENDPOINT.set(Endpoint.CHAT_COMPLETIONS)
    return endpoint
