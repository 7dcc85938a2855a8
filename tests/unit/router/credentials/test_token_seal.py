"""Sealing an OAuth account's secrets: only ciphertext leaves the router, keys rotate, and a
record opens only for the account it was sealed for."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from tollway_router.credentials.token_seal import (
    AccountSecrets,
    SealBroken,
    Sealer,
    seed_fingerprint,
)

SECRETS = AccountSecrets(
    seed=seed_fingerprint("fake-refresh-seed"),
    refresh_token="fake-refresh-rotated-7c1",
    access_token="fake-access-4e2",
)


def _key() -> str:
    return Fernet.generate_key().decode()


def test_a_sealed_record_opens_to_what_was_sealed_and_holds_no_secret_in_clear() -> None:
    sealer = Sealer([_key()])
    sealed = sealer.seal("acct_1", SECRETS)
    assert "fake-refresh" not in sealed
    assert "fake-access" not in sealed
    assert sealer.open("acct_1", sealed) == SECRETS


def test_a_record_sealed_for_one_account_does_not_open_for_another() -> None:
    sealer = Sealer([_key()])
    with pytest.raises(SealBroken, match="another account"):
        sealer.open("acct_2", sealer.seal("acct_1", SECRETS))


def test_a_record_does_not_open_with_a_different_key() -> None:
    sealed = Sealer([_key()]).seal("acct_1", SECRETS)
    with pytest.raises(SealBroken, match="does not open"):
        Sealer([_key()]).open("acct_1", sealed)


def test_a_new_key_first_still_opens_records_sealed_with_the_old_one() -> None:
    old, new = _key(), _key()
    sealed_before = Sealer([old]).seal("acct_1", SECRETS)
    rotated = Sealer.from_secret(f"{new}, {old}")
    assert rotated.open("acct_1", sealed_before) == SECRETS
    assert Sealer([new]).open("acct_1", rotated.seal("acct_1", SECRETS)) == SECRETS


@pytest.mark.parametrize("keys", [[], ["not-a-fernet-key"]])
def test_a_missing_or_malformed_key_is_refused_with_how_to_make_one(keys: list[str]) -> None:
    with pytest.raises(ValueError, match=r"Fernet\.generate_key"):
        Sealer(keys)


def test_the_secrets_never_show_in_a_repr() -> None:
    assert "fake-refresh-rotated" not in repr(SECRETS)
    assert "fake-access" not in repr(SECRETS)
