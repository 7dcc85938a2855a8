"""One Responses API request while the router serves it: the conversation a
`previous_response_id` names put in front of the new input before any deployment is chosen,
and, once the answer is there, what Tollway answers for patched into the response object
(`store`, `previous_response_id`: upstreams are called with neither) and the record stored
before the answer's last byte leaves, so a follow-up sent the moment it arrives finds it.

The contract with every Responses adapter (native or translated over chat): a non-streamed
answer is one Response body; a stream's closing event (`response.completed`,
`response.incomplete` or `response.failed`, the chunk that carries usage) is one complete
`event:`/`data:` frame whose data has the whole `response`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson

from tollway_common.anthropic_sse import frame
from tollway_common.contract import InferRequest
from tollway_router.providers.adapter import ChunkOut
from tollway_router.responses.records import StoredResponse, conversation, input_items
from tollway_router.responses.store import ResponseStore

log = logging.getLogger(__name__)

# Stream events whose data holds the response object: Tollway's fields are patched into each.
_RESPONSE_EVENTS = frozenset(
    {
        "response.created",
        "response.queued",
        "response.in_progress",
        "response.completed",
        "response.incomplete",
        "response.failed",
    }
)
CLOSING_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})
_EVENT_PREFIX = b"event: response."


class ResponseSession:
    def __init__(self, store: ResponseStore, infer: InferRequest) -> None:
        self.store = store
        previous = infer.body.get("previous_response_id")
        self.previous_id = previous if isinstance(previous, str) else None
        self.keep = infer.body.get("store") is not False
        self.own_input = input_items(infer.body.get("input"))
        self.infer = infer
        self._stored = False

    async def expand(self) -> InferRequest:
        """The request to serve: with a `previous_response_id`, its `input` is the whole
        conversation so far (the id stays, so the answer can echo it).

        Raises:
            InvalidRequest: the id names nothing the caller may continue
                (`previous_response_not_found`).
        """
        if self.previous_id is None:
            return self.infer
        chain = await self.store.chain(self.previous_id, self.infer.principal)
        new_input = input_items(self.infer.body.get("input"), mint_ids=False)
        body = {**self.infer.body, "input": conversation(chain, new_input)}
        self.infer = self.infer.model_copy(update={"body": body})
        return self.infer

    async def answered(self, body: bytes) -> bytes:
        """A whole (non-streamed) Response body, patched, stored when asked to be."""
        try:
            response = orjson.loads(body)
        except orjson.JSONDecodeError:
            return body
        if not isinstance(response, dict):
            return body
        await self._patch_and_keep(response, closing=True)
        return orjson.dumps(response)

    async def relay(self, chunk: ChunkOut) -> bytes:
        """A stream chunk as the client gets it: the events carrying the response object
        patched, the closing one stored first."""
        data = chunk.data
        if not data.startswith(_EVENT_PREFIX):
            return data
        head, _, rest = data.partition(b"\n")
        kind = head[len(b"event: ") :].decode()
        if kind not in _RESPONSE_EVENTS or not rest.startswith(b"data: "):
            return data
        try:
            payload = orjson.loads(rest[len(b"data: ") :])
        except orjson.JSONDecodeError:
            return data
        response = payload.get("response") if isinstance(payload, dict) else None
        if not isinstance(response, dict):
            return data
        await self._patch_and_keep(response, closing=kind in CLOSING_EVENTS)
        return frame(kind, orjson.dumps(payload))

    async def _patch_and_keep(self, response: dict[str, Any], closing: bool) -> None:
        response["store"] = self.keep
        response["previous_response_id"] = self.previous_id
        if not (closing and self.keep) or self._stored:
            return
        response_id = response.get("id")
        if not isinstance(response_id, str):
            log.warning("a response without an id is not stored")
            return
        created = response.get("created_at")
        record = StoredResponse(
            owner=self.infer.principal,
            created_at=int(created) if isinstance(created, int | float) else int(time.time()),
            input=self.own_input,
            previous_response_id=self.previous_id,
            response=response,
        )
        self._stored = await self.store.put(response_id, record)
