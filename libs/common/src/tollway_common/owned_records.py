"""The records one owner holds in a KV bucket keyed `<owner>.<id>` (files, batches).

Listed from the stream's per-subject counts, then read key by key: a KV watcher ends its
initial listing with a marker that nats-py can put ahead of entries still in flight (it
compares the consumer's pending count with what it has processed so far), which listed a
just-written file as missing.
"""

from __future__ import annotations

import asyncio

from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

_KV_SUBJECT_PREFIX = "$KV"


async def owned_values(js: JetStreamContext, bucket: str, kv: KeyValue, owner: str) -> list[bytes]:
    """The current value of every key `<owner>.*` in `bucket` that is not deleted."""
    prefix = f"{_KV_SUBJECT_PREFIX}.{bucket}."
    info = await js.stream_info(f"KV_{bucket}", subjects_filter=f"{prefix}{owner}.*")
    keys = [subject.removeprefix(prefix) for subject in (info.state.subjects or {})]
    values = await asyncio.gather(*(_value(kv, key) for key in keys))
    return [value for value in values if value]


async def _value(kv: KeyValue, key: str) -> bytes | None:
    try:
        entry = await kv.get(key)
    except KeyNotFoundError:
        return None
    return entry.value
