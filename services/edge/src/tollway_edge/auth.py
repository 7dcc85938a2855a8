"""Turn the credential a client presents (a virtual key, or an OIDC token when configured)
into the Caller it stands for: its principal and the policy levels that apply to it."""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from starlette.datastructures import Headers

from tollway_common.contract import Principal
from tollway_common.control import KeyRecord, OrgRecord, TeamRecord, hash_key
from tollway_common.errors import AuthenticationFailed, PermissionDenied
from tollway_common.oidc import OidcVerifier, TokenClaims, looks_like_jwt
from tollway_edge.catalog import Catalog
from tollway_edge.policy import Effective, Level, effective


class UnknownKey(AuthenticationFailed):
    """The key is no virtual key this gateway knows (not a revoked or expired one)."""


@dataclass(frozen=True, slots=True)
class TokenAuth:
    """How the edge takes OIDC tokens: their verifier, and the team a token whose team and org
    claims name no record falls into (None: such a token is refused)."""

    verifier: OidcVerifier
    default_team: str | None = None


@dataclass(frozen=True, slots=True)
class Caller:
    principal: Principal
    # Narrowest first: key, team, org.
    levels: tuple[Level, ...]
    key: KeyRecord | None = None
    # The levels combined, once per request (admission and the request message both read it).
    rules: Effective = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", effective(self.levels))


def presented_key(headers: Headers) -> str | None:
    """The key from `Authorization: Bearer`, or from `api-key` / `x-api-key` for Azure and
    Anthropic clients."""
    authorization = headers.get("authorization")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return headers.get("api-key") or headers.get("x-api-key")


async def authenticate(headers: Headers, catalog: Catalog, oidc: TokenAuth | None = None) -> Caller:
    key = presented_key(headers)
    if not key:
        raise AuthenticationFailed(
            "You didn't provide an API key. Send it as 'Authorization: Bearer <key>' (or as "
            "'x-api-key: <key>')."
        )
    if oidc is not None and looks_like_jwt(key):
        claims = await oidc.verifier.verify(key)
        team_id, org_id = token_owner(
            claims, catalog.teams.items, catalog.orgs.items, oidc.default_team
        )
        principal = Principal(
            key_id="", user_id=claims.user_id, team_id=team_id, org_id=org_id, auth="jwt"
        )
        return Caller(principal=principal, levels=_owner_levels(catalog, principal))
    record = key_record(key, catalog)
    principal = principal_of(record)
    levels = (Level(f"key '{record.name}'", record.policy), *_owner_levels(catalog, principal))
    return Caller(principal=principal, levels=levels, key=record)


def token_owner(
    claims: TokenClaims,
    teams: Mapping[str, TeamRecord],
    orgs: Mapping[str, OrgRecord],
    default_team: str | None,
) -> tuple[str, str]:
    """The team and org whose policy, limits and budgets hold a token's caller.

    A token is held by the team it names (in that team's org) or, naming no team, by its org.
    One naming neither a known team nor a known org would otherwise pass with no policy, limits
    or budgets at all: it goes to `default_team`, or is refused.
    """
    if claims.team_id:
        team = teams.get(claims.team_id)
        if team is not None:
            if claims.org_id and claims.org_id != team.org_id:
                raise PermissionDenied(
                    f"The token names team '{team.team_id}' and org '{claims.org_id}', but the "
                    f"team belongs to org '{team.org_id}'. Ask your identity administrator to "
                    "fix the token's claims.",
                    code="unknown_team_or_org",
                )
            return team.team_id, team.org_id
        why = f"names team '{claims.team_id}', which this gateway has no record of"
    elif claims.org_id:
        if claims.org_id in orgs:
            return "", claims.org_id
        why = f"names org '{claims.org_id}', which this gateway has no record of"
    else:
        why = "names no team and no org"
    if default_team is not None:
        team = teams.get(default_team)
        if team is not None:
            return team.team_id, team.org_id
        raise PermissionDenied(
            f"The token {why}, and the default team '{default_team}' set for such "
            "tokens does not exist on this gateway. Ask your gateway operator to create it.",
            code="unknown_team_or_org",
        )
    raise PermissionDenied(
        f"The token {why}, so no policy, limits or budgets would hold its caller. Ask your "
        "gateway operator to create the team or org, or to set a default team for tokens.",
        code="unknown_team_or_org",
    )


def key_record(key: str, catalog: Catalog) -> KeyRecord:
    digest = hash_key(key)
    record = catalog.keys.items.get(digest)
    if record is None or not hmac.compare_digest(record.key_hash, digest):
        raise UnknownKey(
            f"Incorrect API key provided: {_shown(key)}. Check the key, or ask your gateway "
            "operator for one."
        )
    now = time.time()
    if not record.usable_at(now):
        state = "was revoked" if record.revoked_at and record.revoked_at <= now else "expired"
        raise AuthenticationFailed(
            f"The API key {_shown(key)} {state}. Ask your gateway operator for a new one."
        )
    return record


def _shown(key: str) -> str:
    return f"{key[:6]}...{key[-4:]}" if len(key) > 16 else "(too short to show)"


def _owner_levels(catalog: Catalog, principal: Principal) -> tuple[Level, ...]:
    levels: list[Level] = []
    team = catalog.teams.items.get(principal.team_id) if principal.team_id else None
    if team is not None:
        levels.append(Level(f"team '{team.team_id}'", team.policy))
    org = catalog.orgs.items.get(principal.org_id) if principal.org_id else None
    if org is not None:
        levels.append(Level(f"org '{org.org_id}'", org.policy))
    return tuple(levels)


def principal_of(record: KeyRecord) -> Principal:
    return Principal(
        key_id=record.key_id,
        key_name=record.name,
        user_id=record.user_id,
        team_id=record.team_id,
        org_id=record.org_id,
    )
