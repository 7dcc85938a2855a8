"""OpenAI chat stream chunks -> OpenAI Responses stream events, one chunk at a time.

A Responses stream opens with `response.created` and `response.in_progress`, then lists each
output item between `response.output_item.added` and `response.output_item.done`: a message's
content parts between `response.content_part.added` and `.done` with their text deltas, a
function call with its argument deltas. It closes with `response.completed` (or
`response.incomplete`) carrying the whole Response, usage included. Every event numbers itself
(`sequence_number`, from 0).

Chat has no items: reasoning text and answer text become one item each, opened when their first
piece arrives and closed when something else starts; each tool call (by its chat `index`)
becomes a function call item once its name is known, and stays open to the end, because some
servers interleave the pieces of parallel calls. The finish reason comes with the last choice
chunk but the usage in the chunk after it, so the closing events wait for the end of the stream.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tollway_common.contract import Usage
from tollway_common.errors import UpstreamUnavailable
from tollway_router.dialects.messages_response import reasoning_of, text_of
from tollway_router.dialects.responses_response import (
    INCOMPLETE,
    SIGNATURE_FIELD,
    Asked,
    call_id_of,
    closing_status,
    function_call_item,
    message_item,
    new_id,
    reasoning_item,
    refusal_part,
    response_object,
    text_part,
    usage_block,
)

Json = dict[str, Any]
# One event: its type (the SSE `event:` line) and its JSON.
Event = tuple[str, Json]
# A message's content part kinds: the delta event, the done event and the field of the text.
_PARTS = {
    "output_text": ("response.output_text.delta", "response.output_text.done", "text"),
    "refusal": ("response.refusal.delta", "response.refusal.done", "refusal"),
}


@dataclass
class _Item:
    """One output item while it streams; `done` holds its final JSON once closed."""

    index: int
    kind: str  # reasoning, message or function_call
    id: str
    # Reasoning text, or the text of a message's open part; a call's arguments so far.
    text: str = ""
    signature: str = ""
    parts: list[Json] = field(default_factory=list)
    part_kind: str | None = None
    call_id: str = ""
    name: str = ""
    done: Json | None = None


@dataclass
class _Call:
    """One chat tool call. Its item starts once its name is known; argument pieces that come
    before the name wait in `pending`."""

    item: _Item | None = None
    id: str = ""
    name: str = ""
    pending: str = ""


@dataclass
class ResponsesStream:
    asked: Asked
    deployment: str
    response_id: str = field(default_factory=lambda: new_id("resp"))
    created_at: int = field(default_factory=lambda: int(time.time()))
    usage: Usage | None = None
    started: bool = False
    finished: bool = False
    # The closing Response, once `finish` has run (what `response.completed` carries).
    response: Json | None = None
    _sequence: int = 0
    _items: list[_Item] = field(default_factory=list)
    # The open reasoning or message item (function calls stay open on their own).
    _open: _Item | None = None
    _calls: dict[int, _Call] = field(default_factory=dict)
    _finish_reason: Any = None

    def feed(self, chunk: Mapping[str, Any], usage: Usage | None = None) -> list[Event]:
        """The events one chat chunk makes (the usage chunk makes none: its usage waits)."""
        if usage is not None:
            self.usage = usage
        events = [] if self.started else self._start()
        choice = _first_choice(chunk)
        delta = choice.get("delta")
        delta = delta if isinstance(delta, dict) else {}
        reasoning = reasoning_of(delta)
        if reasoning:
            events += self._reasoning(reasoning)
        signature = delta.get(SIGNATURE_FIELD)
        if isinstance(signature, str) and signature:
            self._sign(signature)
        text = text_of(delta.get("content"))
        if text:
            events += self._text("output_text", text)
        refusal = delta.get("refusal")
        if isinstance(refusal, str) and refusal:
            events += self._text("refusal", refusal)
        calls = delta.get("tool_calls")
        for call in calls if isinstance(calls, list) else []:
            if isinstance(call, dict):
                events += self._tool_delta(call)
        finish = choice.get("finish_reason")
        if finish:
            self._finish_reason = finish
        return events

    def finish(self) -> list[Event]:
        """The closing events, once the chat stream has ended."""
        if self.finished:
            return []
        events = [] if self.started else self._start()
        if any(call.item is None for call in self._calls.values()):
            raise UpstreamUnavailable(
                f"Deployment '{self.deployment}' streamed a tool call without a name."
            )
        # The last item is the one a cut-short answer leaves incomplete (`closing_status`).
        cut = self._finish_reason in INCOMPLETE
        last = len(self._items) - 1
        events += self._close_open(cut and self._open is not None and self._open.index == last)
        for item in self._items:
            if item.kind == "function_call" and item.done is None:
                events += self._close_call(
                    item, "incomplete" if cut and item.index == last else "completed"
                )
        output = [item.done for item in self._items if item.done is not None]
        status, incomplete = closing_status(self._finish_reason, output)
        self.response = response_object(
            self.asked,
            self.response_id,
            self.created_at,
            status=status,
            output=output,
            usage=usage_block(self.usage),
            incomplete=incomplete,
            completed_at=int(time.time()) if status == "completed" else None,
        )
        kind = "response.completed" if status == "completed" else "response.incomplete"
        events.append(self._event(kind, response=self.response))
        self.finished = True
        return events

    # --- events -----------------------------------------------------------------------

    def _event(self, kind: str, **body: Any) -> Event:
        event = (kind, {"type": kind, "sequence_number": self._sequence, **body})
        self._sequence += 1
        return event

    def _start(self) -> list[Event]:
        self.started = True
        shell = response_object(
            self.asked,
            self.response_id,
            self.created_at,
            status="in_progress",
            output=[],
            usage=None,
        )
        return [
            self._event("response.created", response=shell),
            self._event("response.in_progress", response=shell),
        ]

    def _add(self, added: Json) -> tuple[_Item, Event]:
        item = _Item(index=len(self._items), kind=added["type"], id=added["id"])
        self._items.append(item)
        return item, self._event("response.output_item.added", output_index=item.index, item=added)

    def _where(self, item: _Item) -> Json:
        return {"item_id": item.id, "output_index": item.index}

    # --- reasoning and message items ---------------------------------------------------

    def _reasoning(self, text: str) -> list[Event]:
        events: list[Event] = []
        item = self._open
        if item is None or item.kind != "reasoning":
            events += self._close_open(False)
            item, added = self._add(
                {**reasoning_item(new_id("rs"), "", "", "in_progress"), "content": []}
            )
            self._open = item
            part = {"type": "reasoning_text", "text": ""}
            events += [
                added,
                self._event(
                    "response.content_part.added", **self._where(item), content_index=0, part=part
                ),
            ]
        item.text += text
        where = self._where(item)
        events.append(
            self._event("response.reasoning_text.delta", **where, content_index=0, delta=text)
        )
        return events

    def _sign(self, signature: str) -> None:
        """The signature of the reasoning just streamed (it follows the thinking text)."""
        for item in reversed(self._items):
            if item.kind == "reasoning":
                item.signature += signature
                if item.done is not None:
                    item.done = {**item.done, "encrypted_content": item.signature}
                return

    def _text(self, part_kind: str, text: str) -> list[Event]:
        events: list[Event] = []
        item = self._open
        if item is None or item.kind != "message":
            events += self._close_open(False)
            item, added = self._add(message_item(new_id("msg"), [], "in_progress"))
            self._open = item
            events.append(added)
        if item.part_kind != part_kind:
            events += self._close_part(item)
            item.part_kind = part_kind
            empty = text_part("") if part_kind == "output_text" else refusal_part("")
            events.append(
                self._event(
                    "response.content_part.added",
                    **self._where(item),
                    content_index=len(item.parts),
                    part=empty,
                )
            )
        item.text += text
        delta_kind = _PARTS[part_kind][0]
        extra: Json = {"logprobs": []} if part_kind == "output_text" else {}
        events.append(
            self._event(
                delta_kind, **self._where(item), content_index=len(item.parts), delta=text, **extra
            )
        )
        return events

    def _close_part(self, item: _Item) -> list[Event]:
        if item.part_kind is None:
            return []
        _, done_kind, name = _PARTS[item.part_kind]
        part = text_part(item.text) if item.part_kind == "output_text" else refusal_part(item.text)
        extra: Json = {"logprobs": []} if item.part_kind == "output_text" else {}
        where = {**self._where(item), "content_index": len(item.parts)}
        events = [
            self._event(done_kind, **where, **{name: item.text}, **extra),
            self._event("response.content_part.done", **where, part=part),
        ]
        item.parts.append(part)
        item.part_kind, item.text = None, ""
        return events

    def _close_open(self, incomplete: bool) -> list[Event]:
        item, self._open = self._open, None
        if item is None:
            return []
        status = "incomplete" if incomplete else "completed"
        events: list[Event] = []
        if item.kind == "reasoning":
            where = {**self._where(item), "content_index": 0}
            events += [
                self._event("response.reasoning_text.done", **where, text=item.text),
                self._event(
                    "response.content_part.done",
                    **where,
                    part={"type": "reasoning_text", "text": item.text},
                ),
            ]
            item.done = reasoning_item(item.id, item.text, item.signature, status)
        else:
            events += self._close_part(item)
            item.done = message_item(item.id, item.parts, status)
        events.append(
            self._event("response.output_item.done", output_index=item.index, item=item.done)
        )
        return events

    # --- function call items -----------------------------------------------------------

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
        item = call.item
        if item is None:
            call.pending += fragment
            if not call.name:
                return []
            events += self._close_open(False)
            added = function_call_item(
                new_id("fc"), call_id_of(call.id), call.name, "", "in_progress"
            )
            item, event = self._add(added)
            item.call_id, item.name = added["call_id"], call.name
            call.item = item
            events.append(event)
            fragment, call.pending = call.pending, ""
        if fragment:
            item.text += fragment
            events.append(
                self._event(
                    "response.function_call_arguments.delta", **self._where(item), delta=fragment
                )
            )
        return events

    def _close_call(self, item: _Item, status: str) -> list[Event]:
        arguments = item.text if item.text.strip() else "{}"
        item.done = function_call_item(item.id, item.call_id, item.name, arguments, status)
        return [
            self._event(
                "response.function_call_arguments.done",
                **self._where(item),
                name=item.name,
                arguments=arguments,
            ),
            self._event("response.output_item.done", output_index=item.index, item=item.done),
        ]


def _first_choice(chunk: Mapping[str, Any]) -> Mapping[str, Any]:
    choices = chunk.get("choices")
    for choice in choices if isinstance(choices, list) else []:
        if isinstance(choice, dict) and choice.get("index", 0) == 0:
            return choice
    return {}
