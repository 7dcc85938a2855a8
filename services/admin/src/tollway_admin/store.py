"""Control-plane state in NATS KV: reads from live mirrors, writes by compare-and-set, and an
audit event for every change.

A write that raced another (the revision moved on since the caller read it) fails with 409 and
changes nothing. After a write the mirror is awaited up to that revision, so the caller reads
what it wrote.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from pydantic import BaseModel

from tollway_admin.audit import AuditLog
from tollway_admin.references import ControlState
from tollway_admin.resources import (
    ALL,
    BUDGETS,
    KEYS,
    MODELS,
    ORGS,
    PRICES,
    TEAMS,
    USERS,
    Resource,
)
from tollway_common import nats_client
from tollway_common.contract import AuditActor
from tollway_common.control import encode_record
from tollway_common.errors import Conflict, NotFound
from tollway_common.kv_mirror import KvMirror

R = TypeVar("R", bound=BaseModel)
log = logging.getLogger(__name__)


class ControlStore:
    def __init__(
        self, buckets: dict[str, KeyValue], mirrors: dict[str, KvMirror[Any]], audit: AuditLog
    ) -> None:
        self._buckets = buckets
        self._mirrors = mirrors
        self._audit = audit

    @classmethod
    async def open(cls, js: JetStreamContext, replicas: int) -> ControlStore:
        await nats_client.ensure_audit_stream(js, replicas)
        buckets: dict[str, KeyValue] = {}
        mirrors: dict[str, KvMirror[Any]] = {}
        for resource in ALL:
            kv = await nats_client.ensure_kv(js, resource.bucket, replicas)
            buckets[resource.bucket] = kv
            mirrors[resource.bucket] = KvMirror(kv, resource.decode)
            await mirrors[resource.bucket].start()
        return cls(buckets, mirrors, AuditLog(js))

    async def close(self) -> None:
        for mirror in self._mirrors.values():
            await mirror.stop()

    @property
    def audit(self) -> AuditLog:
        """For actions that are no control-plane write (a client session revoked)."""
        return self._audit

    def bucket(self, resource: Resource[Any]) -> KeyValue:
        return self._buckets[resource.bucket]

    def all(self, resource: Resource[R]) -> list[R]:
        items: list[R] = list(self._mirrors[resource.bucket].items.values())
        return sorted(items, key=resource.public_id)

    def state(self) -> ControlState:
        def by_id(resource: Resource[R]) -> dict[str, R]:
            return {resource.public_id(record): record for record in self.all(resource)}

        return ControlState(
            orgs=by_id(ORGS),
            teams=by_id(TEAMS),
            users=by_id(USERS),
            models=by_id(MODELS),
            prices=by_id(PRICES),
            budgets=by_id(BUDGETS),
            keys=by_id(KEYS),
        )

    def find(self, resource: Resource[R], public_id: str) -> R | None:
        if resource.kv_key_for_id(public_id) in self._mirrors[resource.bucket].items:
            item: R = self._mirrors[resource.bucket].items[resource.kv_key_for_id(public_id)]
            return item
        return next((r for r in self.all(resource) if resource.public_id(r) == public_id), None)

    async def read(self, resource: Resource[R], public_id: str) -> tuple[R, int]:
        """The record as stored now and its revision, for a compare-and-set write."""
        found = self.find(resource, public_id)
        if found is None:
            raise NotFound(f"There is no {resource.kind} '{public_id}'.")
        kv_key = resource.kv_key(found)
        try:
            entry = await self._buckets[resource.bucket].get(kv_key)
        except KeyNotFoundError:
            raise NotFound(f"There is no {resource.kind} '{public_id}'.") from None
        if entry.value is None or entry.revision is None:
            raise NotFound(f"There is no {resource.kind} '{public_id}'.")
        return resource.decode(entry.value), entry.revision

    async def create(self, resource: Resource[R], record: R, actor: AuditActor) -> int:
        kv = self._buckets[resource.bucket]
        public_id = resource.public_id(record)
        try:
            revision = await kv.create(resource.kv_key(record), encode_record(record))
        except KeyWrongLastSequenceError:
            raise Conflict(f"The {resource.kind} '{public_id}' already exists.") from None
        await self._after_write(resource, "create", public_id, None, record, revision, actor)
        return revision

    async def replace(
        self, resource: Resource[R], record: R, revision: int, actor: AuditActor
    ) -> int:
        """Write `record` over the one read at `revision`."""
        public_id = resource.public_id(record)
        before = await self._current(resource, resource.kv_key(record), revision, public_id)
        try:
            new_revision = await self._buckets[resource.bucket].update(
                resource.kv_key(record), encode_record(record), last=revision
            )
        except KeyWrongLastSequenceError:
            raise _lost_race(resource, public_id) from None
        await self._after_write(resource, "update", public_id, before, record, new_revision, actor)
        return new_revision

    async def delete(
        self, resource: Resource[R], record: R, revision: int, actor: AuditActor
    ) -> None:
        public_id = resource.public_id(record)
        try:
            new_revision = await self._buckets[resource.bucket].delete(
                resource.kv_key(record), last=revision
            )
        except KeyWrongLastSequenceError:
            raise _lost_race(resource, public_id) from None
        await self._after_write(
            resource, "delete", public_id, record, None, int(new_revision), actor
        )

    async def _current(
        self, resource: Resource[R], kv_key: str, revision: int, public_id: str
    ) -> R:
        try:
            entry = await self._buckets[resource.bucket].get(kv_key)
        except KeyNotFoundError:
            raise NotFound(f"There is no {resource.kind} '{public_id}'.") from None
        if entry.revision != revision or entry.value is None:
            raise _lost_race(resource, public_id)
        return resource.decode(entry.value)

    async def _after_write(
        self,
        resource: Resource[R],
        action: str,
        public_id: str,
        before: R | None,
        after: R | None,
        revision: int,
        actor: AuditActor,
    ) -> None:
        await self._audit.record(
            event_id=f"{resource.bucket}-{revision}",
            actor=actor,
            action=f"{resource.kind}.{action}",
            resource_type=resource.kind,
            resource_id=public_id,
            before=before.model_dump(mode="json") if before is not None else None,
            after=after.model_dump(mode="json") if after is not None else None,
        )
        try:
            await self._mirrors[resource.bucket].wait_for(revision)
        except TimeoutError:
            log.warning("mirror lagging after write", extra={"bucket": resource.bucket})


def _lost_race(resource: Resource[Any], public_id: str) -> Conflict:
    return Conflict(
        f"The {resource.kind} '{public_id}' changed since it was read; read it again and retry."
    )
