"""Stored Responses API answers in NATS KV (`KV_RESPONSES`), one record per response id, each
kept for the configured TTL and readable only by its owner (`records.may_read`).

A record too large for one NATS message is not stored (logged and counted): the answer it
belongs to still reaches the client, only a later `previous_response_id` or GET cannot find it.
"""

from __future__ import annotations

import logging
import re

from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError, KeyNotFoundError
from nats.js.kv import KeyValue
from pydantic import ValidationError

from tollway_common import contract
from tollway_common.contract import Principal
from tollway_common.errors import InvalidRequest
from tollway_router import metrics
from tollway_router.responses.records import Share, StoredResponse, may_read

log = logging.getLogger(__name__)

# How many earlier responses one `previous_response_id` may reach back through.
MAX_CHAIN = 256
# Room left in a NATS message for the KV put's subject and headers.
_MESSAGE_OVERHEAD = 4096
# Response ids a KV key may hold (KV keys allow `[-/_=.a-zA-Z0-9]`).
_STORABLE_ID = re.compile(r"[A-Za-z0-9_-]{1,200}")


def previous_response_not_found(response_id: str) -> InvalidRequest:
    """OpenAI's answer for a `previous_response_id` it cannot use (missing, expired, deleted, or
    someone else's: the caller is never told which)."""
    return InvalidRequest(
        f"Previous response with id '{response_id}' not found.",
        param="previous_response_id",
        code="previous_response_not_found",
    )


async def open_bucket(js: JetStreamContext, ttl_s: float, replicas: int) -> KeyValue:
    """The responses bucket: one value per key (a response is written once), expiring after
    `ttl_s`. An existing bucket is used as it is."""
    try:
        return await js.key_value(contract.KV_RESPONSES)
    except BucketNotFoundError:
        return await js.create_key_value(
            bucket=contract.KV_RESPONSES, history=1, replicas=replicas, ttl=ttl_s
        )


class ResponseStore:
    def __init__(self, kv: KeyValue, share: Share, max_value_bytes: int) -> None:
        self._kv = kv
        self.share = share
        self._max_value_bytes = max(0, max_value_bytes - _MESSAGE_OVERHEAD)

    async def get(self, response_id: str, reader: Principal) -> StoredResponse | None:
        """The record, if it exists and `reader` may read it; None otherwise, alike."""
        if not _STORABLE_ID.fullmatch(response_id):
            return None
        try:
            entry = await self._kv.get(response_id)
        except KeyNotFoundError:
            return None
        if entry.value is None:
            return None
        try:
            record = StoredResponse.model_validate_json(entry.value)
        except ValidationError:
            log.warning("unreadable stored response", extra={"response_id": response_id})
            return None
        return record if may_read(reader, record.owner, self.share) else None

    async def put(self, response_id: str, record: StoredResponse) -> bool:
        """Store `record`; False (logged and counted) when it cannot be, never raises."""
        if not _STORABLE_ID.fullmatch(response_id):
            return _not_stored("bad_id", response_id)
        value = record.model_dump_json().encode()
        if len(value) > self._max_value_bytes:
            return _not_stored("too_large", response_id, size=len(value))
        try:
            await self._kv.put(response_id, value)
        except Exception:
            log.exception("storing a response failed", extra={"response_id": response_id})
            metrics.RESPONSES_NOT_STORED.labels(reason="error").inc()
            return False
        return True

    async def delete(self, response_id: str, reader: Principal) -> bool:
        """Delete the record if `reader` may; whether there was one they may delete."""
        if await self.get(response_id, reader) is None:
            return False
        await self._kv.delete(response_id)
        return True

    async def chain(self, response_id: str, reader: Principal) -> list[StoredResponse]:
        """The record `response_id` names and every one it continues, newest first.

        Raises:
            InvalidRequest: a record on the way is missing or not `reader`'s
                (`previous_response_not_found`), or the chain is longer than MAX_CHAIN.
        """
        records: list[StoredResponse] = []
        next_id: str | None = response_id
        while next_id is not None:
            if len(records) >= MAX_CHAIN:
                raise InvalidRequest(
                    f"The conversation continued by '{response_id}' is more than {MAX_CHAIN} "
                    "responses long; start a new one and pass the context it needs as input.",
                    param="previous_response_id",
                )
            record = await self.get(next_id, reader)
            if record is None:
                raise previous_response_not_found(response_id)
            records.append(record)
            next_id = record.previous_response_id
        return records


def _not_stored(reason: str, response_id: str, size: int = 0) -> bool:
    log.warning(
        "response not stored", extra={"response_id": response_id, "why": reason, "size": size}
    )
    metrics.RESPONSES_NOT_STORED.labels(reason=reason).inc()
    return False
