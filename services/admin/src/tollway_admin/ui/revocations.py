"""Admin UI sessions signed out before they expired, shared by every admin replica through a
NATS KV bucket whose entries expire with the sessions.

The session cookie is signed, not stored: without this list a copy of the cookie taken before
sign-out would stay good until it expired."""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from tollway_common import contract, nats_client
from tollway_common.kv_mirror import KvMirror


def _mark(data: bytes) -> bool:
    return True


class RevokedSessions:
    def __init__(self, mirror: KvMirror[bool], kv: KeyValue) -> None:
        self._mirror = mirror
        self._kv = kv

    @classmethod
    async def open(cls, js: JetStreamContext, replicas: int, ttl_s: float) -> RevokedSessions:
        kv = await nats_client.ensure_kv(js, contract.KV_ADMIN_SESSIONS, replicas, ttl_s)
        mirror = KvMirror(kv, _mark)
        await mirror.start()
        return cls(mirror, kv)

    def revoked(self, session_id: str) -> bool:
        return session_id in self._mirror.items

    async def revoke(self, session_id: str) -> None:
        revision = await self._kv.put(session_id, b"1")
        # Read-your-writes: the next page this replica serves already refuses the session.
        await self._mirror.wait_for(revision)

    async def close(self) -> None:
        await self._mirror.stop()
