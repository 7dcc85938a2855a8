"""Admin sign-in by OIDC: a verified token's roles claim mapped onto admin roles."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from tollway_admin.security import AdminIdentity, Role
from tollway_common.contract import AuditActor
from tollway_common.errors import PermissionDenied
from tollway_common.oidc import OidcVerifier, TokenClaims


def roles_from_claims(claimed: tuple[str, ...], mapping: Mapping[str, str]) -> frozenset[Role]:
    """`mapping` turns issuer role names (e.g. Entra app roles `Tollway.Admin`) into ours.
    Without a mapping our own names are taken as they are; with one, only mapped names count,
    so a role named `admin` that the issuer defines for something else grants nothing."""
    roles: set[Role] = set()
    for name in claimed:
        mapped = mapping.get(name) if mapping else name
        if mapped is not None and mapped in Role._value2member_map_:
            roles.add(Role(mapped))
    return frozenset(roles)


def identity_from_claims(claims: TokenClaims, mapping: Mapping[str, str]) -> AdminIdentity:
    roles = roles_from_claims(claims.roles, mapping)
    if not roles:
        raise PermissionDenied("The token is valid but carries no Tollway admin role.")
    if roles == {Role.TEAM_ADMIN} and not claims.team_id:
        raise PermissionDenied("A team-admin token must name its team.")
    return AdminIdentity(
        actor=AuditActor(kind="oidc", id=claims.subject, roles=sorted(roles)),
        roles=roles,
        team_id=claims.team_id,
    )


def oidc_identifier(
    verifier: OidcVerifier, mapping: Mapping[str, str]
) -> Callable[[str], Awaitable[AdminIdentity]]:
    async def identify(token: str) -> AdminIdentity:
        return identity_from_claims(await verifier.verify(token), mapping)

    return identify
