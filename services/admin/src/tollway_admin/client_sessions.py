"""Ask the edges about a key's client sessions (they keep them in their Redis; admin does not
reach Redis): list them, or revoke one. Revocations are audited."""

from __future__ import annotations

import uuid

import nats.errors
from nats.aio.client import Client

from tollway_admin.audit import AuditLog
from tollway_common import contract
from tollway_common.contract import (
    AuditActor,
    ClientSession,
    ClientSessionOp,
    ClientSessionQuery,
)
from tollway_common.errors import (
    InvalidRequest,
    LimitsUnavailable,
    NoRouterAvailable,
    NotFound,
    TollwayError,
    UpstreamTimeout,
)

_TIMEOUT_S = 5.0
_ERRORS: dict[int, type[TollwayError]] = {400: InvalidRequest, 404: NotFound}


async def _ask(nc: Client, query: ClientSessionQuery) -> list[ClientSession]:
    try:
        msg = await nc.request(
            contract.CLIENT_SESSIONS_SUBJECT, contract.encode(query), timeout=_TIMEOUT_S
        )
    except nats.errors.NoRespondersError:
        raise NoRouterAvailable(
            "No edge is running, so client sessions cannot be read or revoked."
        ) from None
    except nats.errors.TimeoutError:
        raise UpstreamTimeout("No edge answered about client sessions in time.") from None
    reply = contract.decode_client_sessions_reply(msg.data)
    if reply.status != 200:
        raise _ERRORS.get(reply.status, LimitsUnavailable)(reply.error)
    return reply.sessions


async def list_sessions(nc: Client, key_id: str) -> list[ClientSession]:
    return await _ask(nc, ClientSessionQuery(op=ClientSessionOp.LIST, key_id=key_id))


async def revoke_session(
    nc: Client, audit: AuditLog, actor: AuditActor, key_id: str, client: str, seconds: int
) -> list[ClientSession]:
    """Revoke, then record who did it; the key's sessions afterwards."""
    query = ClientSessionQuery(
        op=ClientSessionOp.REVOKE, key_id=key_id, client=client, revoke_s=seconds
    )
    found = await _ask(nc, query)
    revoked = next((s for s in found if s.client == client), None)
    await audit.record(
        event_id=f"client-session-{uuid.uuid4().hex}",
        actor=actor,
        action="client_session.revoke",
        resource_type="key",
        resource_id=key_id,
        before=None,
        after={
            "client": client,
            "user_agent": revoked.user_agent if revoked else "",
            "revoked_until_ms": revoked.revoked_until_ms if revoked else 0,
        },
    )
    return found
