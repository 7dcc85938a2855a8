"""Where files live: contents in the JetStream object store `OBJECT_FILES` (chunked, so a
large upload is never one NATS message), records in KV `KV_FILES` keyed `<owner>.<file id>`.
The edge stores uploads and serves them; routers store batch output files. The records and
their shapes are `batches.py`'s.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
from typing import BinaryIO

from nats.js import JetStreamContext
from nats.js.api import ObjectMeta, ObjectStoreConfig, StorageType
from nats.js.errors import KeyNotFoundError, NotFoundError, ObjectNotFoundError
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore

from tollway_common import contract, nats_client
from tollway_common.batches import FileRecord, record_key
from tollway_common.owned_records import owned_values

_STREAM = f"OBJ_{contract.OBJECT_FILES}"


class FileStore:
    def __init__(self, js: JetStreamContext, records: KeyValue, objects: ObjectStore) -> None:
        self._js = js
        self._records = records
        self._objects = objects

    @classmethod
    async def open(cls, js: JetStreamContext, replicas: int) -> FileStore:
        records = await nats_client.ensure_kv(js, contract.KV_FILES, replicas)
        try:
            objects = await js.object_store(contract.OBJECT_FILES)
        except NotFoundError:
            config = ObjectStoreConfig(
                bucket=contract.OBJECT_FILES, storage=StorageType.FILE, replicas=replicas
            )
            objects = await js.create_object_store(contract.OBJECT_FILES, config=config)
        return cls(js, records, objects)

    async def put(self, record: FileRecord, data: bytes | BinaryIO) -> FileRecord:
        """Store the contents, then the record: a file is listed only once it is whole."""
        info = await self._objects.put(record.id, data, meta=ObjectMeta(name=record.id))  # type: ignore[arg-type]
        stored = record.model_copy(update={"bytes": info.size})
        await self._records.put(
            record_key(record.owner, record.id), stored.model_dump_json().encode()
        )
        return stored

    async def get(self, owner: str, file_id: str) -> FileRecord | None:
        """The owner's file `file_id`; None when it has none by that id."""
        if not _valid_id(file_id):
            return None
        try:
            entry = await self._records.get(record_key(owner, file_id))
        except KeyNotFoundError:
            return None
        if not entry.value:
            return None
        return FileRecord.model_validate_json(entry.value)

    async def list(self, owner: str) -> list[FileRecord]:
        """The owner's files, oldest first."""
        values = await owned_values(self._js, contract.KV_FILES, self._records, owner)
        found = [FileRecord.model_validate_json(value) for value in values]
        return sorted(found, key=lambda record: (record.created_at, record.id))

    async def read(self, record: FileRecord, into: BinaryIO) -> None:
        """Write the file's contents into `into`, chunk by chunk, checking their digest.

        nats-py's `ObjectStore.get` looks the stream up by subject first
        (`$JS.API.STREAM.NAMES`, which no service may call): this reads the chunks from the
        stream it names instead."""
        if record.bytes == 0:
            return
        info = await self._objects.get_info(record.id)
        if not info.nuid or not info.digest:
            raise ObjectNotFoundError
        subject = f"$O.{contract.OBJECT_FILES}.C.{info.nuid}"
        sub = await self._js.subscribe(subject, stream=_STREAM, ordered_consumer=True)
        digest = hashlib.sha256()
        try:
            async for msg in sub.messages:
                digest.update(msg.data)
                into.write(msg.data)
                if msg.metadata.num_pending == 0:
                    break
        finally:
            await sub.unsubscribe()
        expected = info.digest.split("=", 1)[1] if "=" in info.digest else info.digest
        if base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=") != expected.rstrip("="):
            raise ValueError(f"file {record.id}: its contents do not match their digest")

    async def read_bytes(self, record: FileRecord) -> bytes:
        buffer = io.BytesIO()
        await self.read(record, buffer)
        return buffer.getvalue()

    async def delete(self, record: FileRecord) -> None:
        """Forget the record first: from then on nobody can reach the contents."""
        await self._records.delete(record_key(record.owner, record.id))
        with contextlib.suppress(ObjectNotFoundError, NotFoundError):
            await self._objects.delete(record.id)


def _valid_id(file_id: str) -> bool:
    return file_id.startswith("file-") and file_id[5:].isalnum() and len(file_id) <= 64
