"""What a router does next with a shared OAuth account, and the records it writes (pure:
`token_store.py` reads and writes NATS KV with compare-and-set and follows these steps).

One router at a time refreshes an account: it takes a lease by writing the record it read
(the write fails when another router wrote first), spends the refresh token, and writes the
rotated one back. The others use the current access token while it is valid and otherwise
wait for the lease holder's record, so a single-use refresh token is never presented twice.
"""

from __future__ import annotations

from enum import StrEnum

from tollway_common.oauth_tokens import StoredTokens, TokenState
from tollway_router.credentials.token_grants import Token
from tollway_router.credentials.token_seal import AccountSecrets

# Retries of a token endpoint that failed (5xx, timeouts) wait 1, 2, 4 ... up to this long.
MAX_BACKOFF_S = 60.0


class Move(StrEnum):
    SEED = "seed"  # no record yet, or the configuration names a different refresh token
    USE = "use"  # the stored access token serves
    LEASE = "lease"  # refresh it: take the lease first
    WAIT = "wait"  # another router is refreshing and there is no valid token to use meanwhile
    REFUSED = "refused"  # the token endpoint refused this chain: invalid until a new seed
    BACK_OFF = "back_off"  # the endpoint failed a moment ago and there is no valid token


def backoff_s(failures: int) -> float:
    return min(MAX_BACKOFF_S, 2.0 ** max(0, failures - 1))


def next_move(
    record: StoredTokens | None,
    secrets: AccountSecrets | None,
    seed: str,
    owner: str,
    now: float,
) -> Move:
    """`secrets` None: the record did not open."""
    if record is None or secrets is None or secrets.seed != seed:
        return Move.SEED
    if record.state is TokenState.INVALID:
        return Move.REFUSED
    valid = bool(secrets.access_token) and now < record.expires_at
    if valid and now < record.refresh_at:
        return Move.USE
    if record.lease_owner and record.lease_owner != owner and record.lease_until > now:
        return Move.USE if valid else Move.WAIT
    if record.failures and now < record.last_failure + backoff_s(record.failures):
        return Move.USE if valid else Move.BACK_OFF
    return Move.LEASE


def seeded(sealed: str) -> StoredTokens:
    return StoredTokens(sealed=sealed)


def leased(record: StoredTokens, owner: str, now: float, lease_s: float) -> StoredTokens:
    return record.model_copy(update={"lease_owner": owner, "lease_until": now + lease_s})


def refreshed(record: StoredTokens, sealed: str, token: Token, now: float) -> StoredTokens:
    return record.model_copy(
        update={
            "sealed": sealed,
            "expires_at": token.expires_at,
            "refresh_at": token.refresh_at,
            "state": TokenState.ACTIVE,
            "reason": "",
            "lease_owner": "",
            "lease_until": 0.0,
            "last_refresh": now,
            "failures": 0,
        }
    )


def failed(record: StoredTokens, reason: str, now: float, refused: bool) -> StoredTokens:
    """A refresh that did not work: `refused` (the endpoint said no) makes the chain invalid;
    otherwise the next try backs off and the current access token keeps serving."""
    return record.model_copy(
        update={
            "state": TokenState.INVALID if refused else record.state,
            "reason": reason,
            "lease_owner": "",
            "lease_until": 0.0,
            "last_failure": now,
            "failures": record.failures + 1,
        }
    )


def usable_token(record: StoredTokens, secrets: AccountSecrets) -> Token:
    return Token(secrets.access_token, record.expires_at, record.refresh_at)
