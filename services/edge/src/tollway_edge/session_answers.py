"""Answer admin's questions about client sessions (`CLIENT_SESSIONS_SUBJECT`, edges' queue
group): list a key's sessions, or revoke one, in the Redis the limiter shares. Any edge can
answer, since every edge sees the same Redis; `limits/sessions.py` is the pure half."""

from __future__ import annotations

import asyncio
import logging

from nats.aio.client import Client
from nats.aio.msg import Msg
from pydantic import ValidationError
from redis.exceptions import RedisError

from tollway_common import contract
from tollway_common.contract import (
    ClientSession,
    ClientSessionOp,
    ClientSessionQuery,
    ClientSessionsReply,
)
from tollway_common.query_desk import QueryDesk
from tollway_edge.auth import principal_of
from tollway_edge.catalog import Catalog
from tollway_edge.limits import sessions
from tollway_edge.limits.plan import hash_tag
from tollway_edge.limits.scripts import REVOKE_SESSION
from tollway_edge.redis_client import RedisClient

log = logging.getLogger(__name__)


class NoSuchSession(LookupError):
    pass


class SessionDesk:
    """Reads and revokes the sessions of one key; the tag comes from the key's record, as the
    limiter's does."""

    def __init__(self, catalog: Catalog, redis: RedisClient) -> None:
        self._catalog = catalog
        self._redis = redis
        self._revoke = redis.register_script(REVOKE_SESSION)

    def _tag(self, key_id: str) -> str:
        for record in self._catalog.keys.items.values():
            if record.key_id == key_id:
                return hash_tag(principal_of(record))
        raise NoSuchSession(f"There is no key '{key_id}'.")

    async def _now_ms(self) -> int:
        seconds, micros = await self._redis.time()
        return int(seconds) * 1000 + int(micros) // 1000

    async def listed(self, key_id: str) -> list[ClientSession]:
        tag = self._tag(key_id)
        index = sessions.index_key(tag, key_id)
        now = await self._now_ms()
        await self._redis.zremrangebyscore(index, "-inf", now)
        members = await self._redis.zrange(index, 0, -1)
        clients = [sessions.text(m) for m in members if isinstance(m, bytes | str)]
        hashes = await asyncio.gather(
            *(self._redis.hgetall(sessions.session_key(tag, key_id, c)) for c in clients)
        )
        found = [
            sessions.read_session(
                key_id, client, {sessions.text(k): sessions.text(v) for k, v in fields.items()}, now
            )
            for client, fields in zip(clients, hashes, strict=True)
        ]
        ended = [client for client, session in zip(clients, found, strict=True) if not session]
        if ended:
            await self._redis.zrem(index, *ended)
        return sessions.listing(found)

    async def revoke(self, key_id: str, client: str, seconds: int) -> list[ClientSession]:
        tag = self._tag(key_id)
        keys = [sessions.session_key(tag, key_id, client), sessions.index_key(tag, key_id)]
        until = int(await self._revoke(keys=keys, args=[client, seconds * 1000]))
        if not until:
            raise NoSuchSession(f"The key '{key_id}' has no session of client '{client}'.")
        return await self.listed(key_id)


async def answer(desk: SessionDesk, query: ClientSessionQuery) -> ClientSessionsReply:
    try:
        if query.op is ClientSessionOp.REVOKE:
            if not query.client:
                return ClientSessionsReply(status=400, error="Name the client to revoke.")
            found = await desk.revoke(query.key_id, query.client, query.revoke_s)
        else:
            found = await desk.listed(query.key_id)
    except NoSuchSession as exc:
        return ClientSessionsReply(status=404, error=str(exc))
    except (RedisError, OSError):
        log.exception("client sessions unavailable")
        return ClientSessionsReply(
            status=503, error="The edge cannot reach Redis, where sessions are kept; try again."
        )
    return ClientSessionsReply(sessions=found)


class SessionAnswers(QueryDesk):
    """Admin's list and revoke queries, one task per query."""

    def __init__(self, nc: Client, desk: SessionDesk) -> None:
        super().__init__(nc, contract.CLIENT_SESSIONS_SUBJECT, contract.EDGE_QUEUE_GROUP)
        self._desk = desk

    async def serve(self, msg: Msg) -> None:
        try:
            reply = await answer(self._desk, contract.decode_client_session_query(msg.data))
        except ValidationError:
            reply = ClientSessionsReply(status=400, error="The client session query is malformed.")
        await self._nc.publish(msg.reply, contract.encode(reply))
