"""OAuth accounts as routers share them in NATS KV: the sealed token record with its refresh
lease (`KV_OAUTH_TOKENS`, routers only) and the token health projection admin reads
(`KV_OAUTH_HEALTH`, no secret in it), both keyed by `account_key`.

An account is one refresh-token chain: the token endpoint, the client, the scope and the
secret reference that seeded it. Two deployments (or aliases) naming the same account share one
record, so a single-use refresh token is spent once whoever needs it.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum

import orjson
from pydantic import BaseModel, ConfigDict

from tollway_common.control import Deployment, OAuthRefreshToken


class TokenState(StrEnum):
    """`active`: tokens are being kept fresh; `invalid`: the token endpoint refused the refresh
    token (`reason` says how) and nobody asks it again until the seed changes."""

    ACTIVE = "active"
    INVALID = "invalid"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class StoredTokens(_Record):
    """`sealed` holds the secrets (refresh and access token, and the seed's fingerprint),
    encrypted with the routers' key; the rest is plain so a router can decide without
    decrypting. Times are Unix seconds. A router refreshing holds `lease_owner` until
    `lease_until`; the others read its result instead of spending the refresh token again."""

    sealed: str
    expires_at: float = 0.0
    refresh_at: float = 0.0
    state: TokenState = TokenState.ACTIVE
    reason: str = ""
    lease_owner: str = ""
    lease_until: float = 0.0
    last_refresh: float = 0.0
    last_failure: float = 0.0
    failures: int = 0


class TokenHealth(_Record):
    """What operators see of one account: when its access token expires, when it was last
    refreshed, the last failure and why, and its state. Never a token."""

    account: str
    deployment: str = ""
    credential: str = ""
    state: TokenState = TokenState.ACTIVE
    expires_at: float = 0.0
    last_refresh: float = 0.0
    last_failure: float = 0.0
    failures: int = 0
    reason: str = ""
    updated_at: float = 0.0
    updated_by: str = ""


def account_key(auth: OAuthRefreshToken, scope: str | None) -> str:
    """The KV key of the account `auth` names (KV keys allow `[-/_=.a-zA-Z0-9]`)."""
    identity = orjson.dumps([auth.token_url, auth.client_id, scope or "", auth.refresh_token])
    return "acct_" + hashlib.sha256(identity).hexdigest()[:40]


def refresh_accounts(deployment: Deployment) -> list[tuple[str, OAuthRefreshToken]]:
    """(credential name, auth) of each refresh-token account of `deployment`; the name is ""
    for the deployment's own `auth`."""
    found: list[tuple[str, OAuthRefreshToken]] = []
    if isinstance(deployment.auth, OAuthRefreshToken):
        found.append(("", deployment.auth))
    found += [
        (c.name, c.auth) for c in deployment.credentials if isinstance(c.auth, OAuthRefreshToken)
    ]
    return found


def encode(record: _Record) -> bytes:
    return orjson.dumps(record.model_dump(mode="json"))


def decode_stored_tokens(data: bytes) -> StoredTokens:
    return StoredTokens.model_validate_json(data)


def decode_token_health(data: bytes) -> TokenHealth:
    return TokenHealth.model_validate_json(data)
