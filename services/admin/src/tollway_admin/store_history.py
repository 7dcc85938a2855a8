"""Earlier revisions of a record (KV keeps ten), for the UI's history and rollback."""

from __future__ import annotations

from typing import TypeVar

from nats.js.errors import KeyNotFoundError, NotFoundError
from pydantic import BaseModel

from tollway_admin.resources import Resource
from tollway_admin.store import ControlStore

R = TypeVar("R", bound=BaseModel)


async def revisions(
    store: ControlStore, resource: Resource[R], public_id: str
) -> list[tuple[int, R]]:
    """(revision, record) pairs, newest first; deletions are skipped."""
    kv = store.bucket(resource)
    try:
        entries = await kv.history(resource.kv_key_for_id(public_id))
    except (KeyNotFoundError, NotFoundError):
        return []
    found = [
        (entry.revision, resource.decode(entry.value))
        for entry in entries
        if entry.value and entry.revision is not None and entry.operation not in ("DEL", "PURGE")
    ]
    return sorted(found, key=lambda pair: pair[0], reverse=True)
