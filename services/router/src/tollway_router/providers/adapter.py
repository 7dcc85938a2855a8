"""The provider adapter interface: pure translation between OpenAI and one provider's wire.

A provider module builds the upstream HTTP call from an OpenAI request and turns the upstream
response, stream events and errors back into OpenAI shapes. It does no I/O: `upstream/`
sends the call, reads the stream and knows no provider.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from tollway_common.contract import Endpoint, RequestFacts, Usage
from tollway_common.control import Deployment
from tollway_common.errors import TollwayError
from tollway_common.providers import Provider

StateT = TypeVar("StateT")


@dataclass(frozen=True, slots=True)
class HttpCall:
    """An upstream request without its secret (`upstream/` adds the credential header)."""

    method: str
    path: str
    body: bytes
    stream: bool
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    # The answer is not OpenAI JSON (audio, a plain-text transcript): the router relays the
    # upstream's bytes and content type as they come, and takes usage from `relayed_usage`.
    relay: bool = False


@dataclass(frozen=True, slots=True)
class SseEvent:
    data: str
    event: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedResponse:
    """A non-streaming upstream reply as the OpenAI JSON body the client receives."""

    body: bytes
    usage: Usage | None
    upstream_model: str = ""


@dataclass(frozen=True, slots=True)
class ChunkOut:
    """One OpenAI `chat.completion.chunk` (or legacy `text_completion`) ready for the client.

    `usage_only` marks the final usage chunk (empty `choices`): the router forwards it only
    when the client asked for `stream_options.include_usage`.
    """

    data: bytes
    usage: Usage | None = None
    usage_only: bool = False
    output_chars: int = 0


@dataclass(frozen=True, slots=True)
class Adapter(Generic[StateT]):
    type: Provider
    # The client's body and the facts the edge read from it (never read from the body again).
    build_request: Callable[[Endpoint, Mapping[str, Any], RequestFacts, Deployment], HttpCall]
    parse_response: Callable[[Endpoint, bytes, Deployment], ParsedResponse]
    new_stream_state: Callable[[], StateT]
    parse_stream_event: Callable[[SseEvent, StateT], list[ChunkOut]]
    parse_error: Callable[[int, Mapping[str, str], bytes], TollwayError]
    # Did the stream reach its proper end ([DONE], message_stop)? A stream that stops short
    # is an upstream failure, not a complete answer.
    stream_complete: Callable[[StateT], bool]
    auth_header: Callable[[str], tuple[str, str]] = lambda secret: (
        "authorization",
        f"Bearer {secret}",
    )
    # The usage of a relayed answer (`HttpCall.relay`), from the client's body alone.
    relayed_usage: Callable[[Endpoint, Mapping[str, Any]], Usage | None] = lambda endpoint, body: (
        None
    )
