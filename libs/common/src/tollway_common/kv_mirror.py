"""An in-memory mirror of one NATS KV bucket, kept current by a watcher.

Readers get an immutable snapshot (a fresh dict on every change), so they never lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Generic, TypeVar

from nats.js.kv import KeyValue
from pydantic import ValidationError

T = TypeVar("T")
log = logging.getLogger(__name__)

_DELETE_OPS = {"DEL", "PURGE"}


class KvMirror(Generic[T]):
    def __init__(self, kv: KeyValue, decode: Callable[[bytes], T]) -> None:
        self._kv = kv
        self._decode = decode
        self._items: Mapping[str, T] = MappingProxyType({})
        self._revision = 0
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Condition()

    @property
    def items(self) -> Mapping[str, T]:
        return self._items

    @property
    def revision(self) -> int:
        return self._revision

    async def wait_for(self, revision: int, timeout_s: float = 2.0) -> None:
        """Wait until the mirror has seen `revision` (read-your-writes for the writer)."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: self._revision >= revision), timeout_s
            )

    async def start(self) -> None:
        watcher = await self._kv.watchall()
        self._task = asyncio.create_task(self._run(watcher), name=f"kv-mirror-{self._kv._name}")
        await self.ready.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self, watcher: KeyValue.KeyWatcher) -> None:
        try:
            async for entry in watcher:
                if entry is None:
                    self.ready.set()
                    continue
                self._apply(entry)
                async with self._changed:
                    self._changed.notify_all()
        finally:
            with contextlib.suppress(Exception):
                await watcher.stop()  # type: ignore[no-untyped-call]

    def _apply(self, entry: KeyValue.Entry) -> None:
        items = dict(self._items)
        if entry.operation in _DELETE_OPS or entry.value is None:
            items.pop(entry.key, None)
        else:
            try:
                items[entry.key] = self._decode(entry.value)
            except ValidationError:
                log.exception("ignoring malformed KV entry", extra={"kv_key": entry.key})
                return
        self._items = MappingProxyType(items)
        self._revision = max(self._revision, entry.revision or 0)
