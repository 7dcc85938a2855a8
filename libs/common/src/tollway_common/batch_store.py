"""Batch records in KV `KV_BATCHES`, keyed `<owner>.<batch id>`: read, list, and change with
compare-and-set, so the edge (create, cancel) and every router (progress, finalising) can
write the same record without losing each other's changes. The record is `batches.py`'s.
"""

from __future__ import annotations

from collections.abc import Callable

from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from tollway_common import contract
from tollway_common.batches import BatchRecord, record_key
from tollway_common.errors import Conflict
from tollway_common.owned_records import owned_values

# A change that finds the record changed under it reads it again; this many times at most.
CAS_ATTEMPTS = 50

Change = Callable[[BatchRecord], BatchRecord | None]


class BatchStore:
    def __init__(self, js: JetStreamContext, kv: KeyValue) -> None:
        self._js = js
        self.kv = kv

    async def create(self, record: BatchRecord) -> None:
        await self.kv.create(record_key(record.owner, record.id), record.model_dump_json().encode())

    async def get(self, owner: str, batch_id: str) -> BatchRecord | None:
        """The owner's batch `batch_id`; None when it has none by that id."""
        if not (batch_id.startswith("batch_") and batch_id[6:].isalnum() and len(batch_id) < 64):
            return None
        try:
            entry = await self.kv.get(record_key(owner, batch_id))
        except KeyNotFoundError:
            return None
        return BatchRecord.model_validate_json(entry.value) if entry.value else None

    async def list(self, owner: str) -> list[BatchRecord]:
        values = await owned_values(self._js, contract.KV_BATCHES, self.kv, owner)
        return [BatchRecord.model_validate_json(value) for value in values]

    async def update(self, owner: str, batch_id: str, change: Change) -> BatchRecord | None:
        """Apply `change` (the record -> its new version, or None to leave it) with
        compare-and-set, reading again when another writer got there first. The record as
        stored afterwards; None when there is no such batch."""
        key = record_key(owner, batch_id)
        for _ in range(CAS_ATTEMPTS):
            try:
                entry = await self.kv.get(key)
            except KeyNotFoundError:
                return None
            if not entry.value:
                return None
            current = BatchRecord.model_validate_json(entry.value)
            updated = change(current)
            if updated is None:
                return current
            try:
                await self.kv.update(key, updated.model_dump_json().encode(), last=entry.revision)
            except KeyWrongLastSequenceError:
                continue
            return updated
        raise Conflict("The batch is being changed by others right now; retry.")
