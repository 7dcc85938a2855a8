"""Who is calling the admin API and what they may do.

Callers present the bootstrap admin token (`TOLLWAY_ADMIN_TOKEN`) or an OIDC bearer token whose
roles claim names `admin`, `viewer` or `team-admin`. A team admin manages only its own team.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Request

from tollway_common.contract import AuditActor
from tollway_common.errors import AuthenticationFailed, PermissionDenied


class Role(StrEnum):
    ADMIN = "admin"
    VIEWER = "viewer"
    TEAM_ADMIN = "team-admin"


@dataclass(frozen=True, slots=True)
class AdminIdentity:
    actor: AuditActor
    roles: frozenset[Role]
    team_id: str = ""

    def can_read(self) -> bool:
        return bool(self.roles)

    def can_write(self, team_id: str | None = None) -> bool:
        if Role.ADMIN in self.roles:
            return True
        return Role.TEAM_ADMIN in self.roles and team_id is not None and team_id == self.team_id


BOOTSTRAP = AdminIdentity(
    actor=AuditActor(kind="bootstrap", id="bootstrap-token", roles=[Role.ADMIN.value]),
    roles=frozenset({Role.ADMIN}),
)


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


# Where the sign-in gate (signin_gate.py) leaves the identity it checked, so a route does not
# verify the same token twice.
IDENTITY_STATE_KEY = "admin_identity"


async def identify(request: Request) -> AdminIdentity:
    """The FastAPI dependency every admin route takes; 401 when nobody is signed in."""
    checked = request.scope.get("state", {}).get(IDENTITY_STATE_KEY)
    if isinstance(checked, AdminIdentity):
        return checked
    token = _bearer(request)
    if token is None:
        raise AuthenticationFailed("Send the admin token as 'Authorization: Bearer <token>'.")
    return await identity_for_token(request, token)


async def identity_for_token(request: Request, token: str) -> AdminIdentity:
    """Who the bootstrap token or an OIDC token stands for."""
    expected: str | None = request.app.state.admin_token
    if expected is not None and hmac.compare_digest(token.encode(), expected.encode()):
        return BOOTSTRAP
    verify: Callable[[str], Awaitable[AdminIdentity]] | None = request.app.state.oidc_identify
    if verify is not None:
        return await verify(token)
    raise AuthenticationFailed("The admin token is not valid.")


async def viewer(request: Request) -> AdminIdentity:
    identity = await identify(request)
    if not identity.can_read():
        raise PermissionDenied("This token carries no admin role.")
    return identity


async def admin(request: Request) -> AdminIdentity:
    identity = await identify(request)
    if Role.ADMIN not in identity.roles:
        raise PermissionDenied("This change needs the 'admin' role.")
    return identity


Viewer = Annotated[AdminIdentity, Depends(viewer)]
Admin = Annotated[AdminIdentity, Depends(admin)]
