"""The steps a router takes with a shared OAuth account: seed, use, lease, wait, refuse, back
off; and the records each step writes."""

from __future__ import annotations

import pytest

from tollway_common.oauth_tokens import StoredTokens, TokenState
from tollway_router.credentials import token_ledger
from tollway_router.credentials.token_grants import Token
from tollway_router.credentials.token_ledger import Move, next_move
from tollway_router.credentials.token_seal import AccountSecrets

NOW = 1_000_000.0
SEED = "seed-a"
ME, OTHER = "router-1/aa", "router-2/bb"
WITH_TOKEN = AccountSecrets(SEED, "refresh-2", "access-2")
NO_TOKEN = AccountSecrets(SEED, "refresh-1")


def _record(**fields: object) -> StoredTokens:
    values: dict[str, object] = {
        "sealed": "x",
        "expires_at": NOW + 100,
        "refresh_at": NOW + 50,
        **fields,
    }
    return StoredTokens.model_validate(values)


@pytest.mark.parametrize(
    ("record", "secrets", "move"),
    [
        (None, None, Move.SEED),
        (_record(), None, Move.SEED),  # did not open (a key changed): start again
        (_record(), AccountSecrets("seed-b", "r", "a"), Move.SEED),  # a new refresh token
        (_record(), WITH_TOKEN, Move.USE),
        (_record(state=TokenState.INVALID), WITH_TOKEN, Move.REFUSED),
        (_record(), NO_TOKEN, Move.LEASE),
        (_record(refresh_at=NOW - 1), WITH_TOKEN, Move.LEASE),
        (_record(expires_at=NOW - 1, refresh_at=NOW - 2), WITH_TOKEN, Move.LEASE),
        # Another router is refreshing: a valid token serves meanwhile, else wait for it.
        (_record(refresh_at=NOW - 1, lease_owner=OTHER, lease_until=NOW + 5), WITH_TOKEN, Move.USE),
        (_record(lease_owner=OTHER, lease_until=NOW + 5), NO_TOKEN, Move.WAIT),
        # Its lease ran out (it died): take over.
        (_record(lease_owner=OTHER, lease_until=NOW - 1), NO_TOKEN, Move.LEASE),
        (_record(lease_owner=ME, lease_until=NOW + 5), NO_TOKEN, Move.LEASE),
        # The endpoint failed a moment ago: back off, serving a valid token meanwhile.
        (_record(failures=3, last_failure=NOW - 1), NO_TOKEN, Move.BACK_OFF),
        (_record(refresh_at=NOW - 1, failures=3, last_failure=NOW - 1), WITH_TOKEN, Move.USE),
        (_record(failures=1, last_failure=NOW - 1.5), NO_TOKEN, Move.LEASE),
    ],
)
def test_next_move(record: StoredTokens | None, secrets: AccountSecrets | None, move: Move) -> None:
    assert next_move(record, secrets, SEED, ME, NOW) is move


def test_backoff_doubles_up_to_a_minute() -> None:
    assert [token_ledger.backoff_s(n) for n in (1, 2, 3, 7, 20)] == [1, 2, 4, 60, 60]


def test_a_refresh_clears_the_lease_and_the_failures() -> None:
    lease = token_ledger.leased(_record(failures=2, reason="failed: 503"), ME, NOW, 30)
    assert (lease.lease_owner, lease.lease_until) == (ME, NOW + 30)
    after = token_ledger.refreshed(lease, "sealed-2", Token("a", NOW + 3600, NOW + 3300), NOW)
    assert after == StoredTokens(
        sealed="sealed-2",
        expires_at=NOW + 3600,
        refresh_at=NOW + 3300,
        last_refresh=NOW,
    )


def test_a_refused_refresh_makes_the_chain_invalid_and_a_failed_one_does_not() -> None:
    lease = token_ledger.leased(_record(), ME, NOW, 30)
    refused = token_ledger.failed(lease, "refused: invalid_grant", NOW, refused=True)
    failed = token_ledger.failed(lease, "failed: HTTP 503", NOW, refused=False)
    assert (refused.state, refused.reason, refused.failures) == (
        TokenState.INVALID,
        "refused: invalid_grant",
        1,
    )
    assert (failed.state, failed.lease_owner, failed.last_failure) == (TokenState.ACTIVE, "", NOW)
