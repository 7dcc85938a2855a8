"""Anthropic's Messages API (`type: anthropic`), reached through the official SDK.

`upstream/` sends the body `build_request` makes with the SDK and hands every SDK stream
event back as `SseEvent(event=<type>, data=<event JSON>)`; this package works on that wire JSON
alone: `request` builds the body (`messages` the turns), `response` reads a `Message`,
`stream` the events, `errors` the error bodies and `error` events.
"""

from __future__ import annotations

from dataclasses import replace

from tollway_common.providers import Provider
from tollway_router.providers.adapter import Adapter
from tollway_router.providers.anthropic.errors import parse_error
from tollway_router.providers.anthropic.request import build_request
from tollway_router.providers.anthropic.response import parse_response
from tollway_router.providers.anthropic.stream import (
    StreamState,
    new_completions_stream_state,
    new_stream_state,
    parse_stream_event,
)

__all__ = ["ADAPTER", "COMPLETIONS_ADAPTER"]

ADAPTER: Adapter[StreamState] = Adapter(
    type=Provider.ANTHROPIC,
    build_request=build_request,
    parse_response=parse_response,
    new_stream_state=new_stream_state,
    parse_stream_event=parse_stream_event,
    parse_error=parse_error,
    stream_complete=lambda state: state.done,
    auth_header=lambda secret: ("x-api-key", secret),
)
# Legacy completions: the same translation, its stream coming out as `text_completion` chunks
# (a stream's state is made before its first event, so the endpoint picks the adapter).
COMPLETIONS_ADAPTER: Adapter[StreamState] = replace(
    ADAPTER, new_stream_state=new_completions_stream_state
)
