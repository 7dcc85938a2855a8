"""Client sessions: one virtual key used by one client (IP hash and user agent, `client_key`)
while a per-client concurrency limit applies to it. Pure: the Redis key layout and the reading
of what Redis holds; `session_answers.py` does the I/O for admin, `scripts.py` the writes.

A session is a Redis hash `tw:{<tag>}:key:<key_id>:sess:<client>` (same hash tag as the
request's other limit keys) with these fields:

- `r:<request_id>`: the expiry (ms) of one request in flight; settled requests remove theirs,
  a crashed edge's expire;
- `since`: when the first of the requests in flight started (a session that empties and
  fills again starts anew);
- `agent`: the client's user agent, as last sent;
- `revoked`: until when (ms) the client is refused with this key, when an operator revoked it.

Each key's sessions are indexed in the sorted set `tw:{<tag>}:key:<key_id>:sessions` (client
scored by the latest expiry), so a listing reads one key's sessions without scanning Redis.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tollway_common.contract import ClientSession

REQUEST_FIELD = "r:"
# A listing shows at most this many sessions of one key, busiest first.
MAX_LISTED = 200


def session_key(tag: str, key_id: str, client: str) -> str:
    return f"tw:{{{tag}}}:key:{key_id}:sess:{client}"


def index_key(tag: str, key_id: str) -> str:
    return f"tw:{{{tag}}}:key:{key_id}:sessions"


def text(value: bytes | str) -> str:
    """A Redis reply as text, whether the client decodes replies or not."""
    return value.decode() if isinstance(value, bytes) else value


def read_session(
    key_id: str, client: str, values: Mapping[str, str], now_ms: int
) -> ClientSession | None:
    """The session as its hash holds it, counting only requests not yet expired; None when
    nothing is in flight and no revocation holds (the session has ended)."""
    in_flight = sum(
        1
        for name, value in values.items()
        if name.startswith(REQUEST_FIELD) and int(value) > now_ms
    )
    revoked = int(values.get("revoked", "0"))
    if revoked <= now_ms:
        revoked = 0
    if not in_flight and not revoked:
        return None
    return ClientSession(
        key_id=key_id,
        client=client,
        user_agent=values.get("agent", ""),
        since_ms=int(values.get("since", "0")) if in_flight else 0,
        in_flight=in_flight,
        revoked_until_ms=revoked,
    )


def listing(sessions: Iterable[ClientSession | None]) -> list[ClientSession]:
    """Live sessions, busiest first, then the oldest first."""
    live = [session for session in sessions if session is not None]
    live.sort(key=lambda s: (-s.in_flight, s.since_ms or s.revoked_until_ms, s.client))
    return live[:MAX_LISTED]
