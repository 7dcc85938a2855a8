"""OpenAI chat stream chunks -> Anthropic Messages stream events, one chunk at a time.

Messages opens and closes one content block at a time, in Anthropic's order: `message_start`
(and a `ping`, as Anthropic sends), then per block `content_block_start`, its deltas and
`content_block_stop`, then `message_delta` (stop reason and usage) and `message_stop`. Chat has
no blocks: reasoning, text and each tool call (by its `index`) become one block each, opened
when their first piece arrives. The stop reason comes with the last choice chunk but the usage
in the chunk after it, so the closing events wait for the end of the stream.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tollway_common.contract import Usage
from tollway_common.errors import UpstreamUnavailable
from tollway_router.dialects.messages_response import (
    Asked,
    message_id,
    reasoning_of,
    stop_reason,
    text_of,
    tool_use_id,
    usage_block,
)

Json = dict[str, Any]
# One event: its type (the SSE `event:` line) and its JSON.
Event = tuple[str, Json]
_NO_CALL = -1


@dataclass
class _Call:
    """One chat tool call. Its block starts once its name is known; argument pieces that come
    before the name wait in `pending`."""

    block: int | None = None
    id: str = ""
    name: str = ""
    pending: str = ""


@dataclass
class MessagesStream:
    asked: Asked
    deployment: str
    usage: Usage | None = None
    started: bool = False
    finished: bool = False
    _id: str = ""
    # The open block: its kind and, for a tool call, the chat index of the call.
    _open: tuple[str, int] | None = None
    _index: int = -1
    _calls: dict[int, _Call] = field(default_factory=dict)
    _stop: str = "end_turn"

    def feed(self, chunk: Mapping[str, Any], usage: Usage | None = None) -> list[Event]:
        """The events one chat chunk makes (the usage chunk makes none: its usage waits)."""
        if usage is not None:
            self.usage = usage
        events = [] if self.started else self._start(chunk)
        choice = _first_choice(chunk)
        delta = choice.get("delta")
        delta = delta if isinstance(delta, dict) else {}
        reasoning = reasoning_of(delta)
        if reasoning and self.asked.thinking:
            events += self._delta("thinking", {"type": "thinking_delta", "thinking": reasoning})
        refusal = delta.get("refusal")
        if isinstance(refusal, str) and refusal:
            self._stop = "refusal"
        text = text_of(delta.get("content")) + (refusal if isinstance(refusal, str) else "")
        if text:
            events += self._delta("text", {"type": "text_delta", "text": text})
        calls = delta.get("tool_calls")
        for call in calls if isinstance(calls, list) else []:
            if isinstance(call, dict):
                events += self._tool_delta(call)
        finish = choice.get("finish_reason")
        if finish and self._stop != "refusal":
            self._stop = stop_reason(finish)
        return events

    def finish(self) -> list[Event]:
        """The closing events, once the chat stream has ended."""
        if self.finished:
            return []
        events = [] if self.started else self._start({})
        if any(call.block is None for call in self._calls.values()):
            raise UpstreamUnavailable(
                f"Deployment '{self.deployment}' streamed a tool call without a name."
            )
        events += self._close()
        events.append(
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": self._stop, "stop_sequence": None},
                    "usage": usage_block(self.usage),
                },
            )
        )
        events.append(("message_stop", {"type": "message_stop"}))
        self.finished = True
        return events

    def _start(self, chunk: Mapping[str, Any]) -> list[Event]:
        self.started = True
        self._id = message_id(chunk.get("id"))
        message: Json = {
            "id": self._id,
            "type": "message",
            "role": "assistant",
            "model": str(chunk.get("model") or self.asked.model),
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            # Chat streams count tokens only at the end; message_delta carries the counts.
            "usage": usage_block(None),
        }
        return [
            ("message_start", {"type": "message_start", "message": message}),
            ("ping", {"type": "ping"}),
        ]

    def _close(self) -> list[Event]:
        if self._open is None:
            return []
        self._open = None
        return [("content_block_stop", {"type": "content_block_stop", "index": self._index})]

    def _begin(self, kind: str, call: int, block: Json) -> list[Event]:
        events = self._close()
        self._index += 1
        self._open = (kind, call)
        start = {"type": "content_block_start", "index": self._index, "content_block": block}
        return [*events, ("content_block_start", start)]

    def _delta(self, kind: str, delta: Json) -> list[Event]:
        events: list[Event] = []
        if self._open != (kind, _NO_CALL):
            empty = {"type": "text", "text": ""}
            if kind == "thinking":
                empty = {"type": "thinking", "thinking": "", "signature": ""}
            events = self._begin(kind, _NO_CALL, empty)
        body = {"type": "content_block_delta", "index": self._index, "delta": delta}
        return [*events, ("content_block_delta", body)]

    def _tool_delta(self, piece: Mapping[str, Any]) -> list[Event]:
        index = piece.get("index")
        index = index if isinstance(index, int) and not isinstance(index, bool) else 0
        call = self._calls.setdefault(index, _Call())
        if isinstance(piece.get("id"), str) and not call.id:
            call.id = piece["id"]
        function = piece.get("function")
        function = function if isinstance(function, dict) else {}
        name = function.get("name")
        if isinstance(name, str) and name and not call.name:
            call.name = name
        arguments = function.get("arguments")
        fragment = arguments if isinstance(arguments, str) else ""
        events: list[Event] = []
        if call.block is None:
            call.pending += fragment
            if not call.name:
                return []
            block = {
                "type": "tool_use",
                "id": tool_use_id(call.id, f"toolu_{uuid.uuid4().hex[:24]}"),
                "name": call.name,
                "input": {},
            }
            events = self._begin("tool_use", index, block)
            call.block = self._index
            fragment, call.pending = call.pending, ""
        if fragment:
            # A piece for a call whose block was closed (a server that interleaves parallel
            # calls) still names that block's index: the SDKs gather input by index.
            delta = {"type": "input_json_delta", "partial_json": fragment}
            body = {"type": "content_block_delta", "index": call.block, "delta": delta}
            events.append(("content_block_delta", body))
        return events


def _first_choice(chunk: Mapping[str, Any]) -> Mapping[str, Any]:
    choices = chunk.get("choices")
    for choice in choices if isinstance(choices, list) else []:
        if isinstance(choice, dict) and choice.get("index", 0) == 0:
            return choice
    return {}
