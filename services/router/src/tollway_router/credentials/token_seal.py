"""The secret half of a shared OAuth account record, sealed with Fernet (AES-128-CBC with
HMAC-SHA256, from `cryptography`) under the routers' encryption key, so NATS KV, its disk
and its replicas only ever hold ciphertext.

Several keys may be given: the first seals, every one opens (`MultiFernet`), so a key is
rotated by putting the new one first and dropping the old one once every record was rewritten
(each refresh rewrites its record). The account's KV key is sealed inside the record and
checked on opening, so a record copied under another account's key does not open there.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import orjson
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

# How to make a key, for error messages and docs.
KEY_HINT = (
    'make one with: python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())"'
)


class SealBroken(Exception):
    """The record does not open with these keys, or belongs to another account."""


@dataclass(frozen=True, slots=True)
class AccountSecrets:
    """`seed` is the fingerprint of the configured refresh token that started this chain."""

    seed: str
    refresh_token: str = field(repr=False)
    access_token: str = field(default="", repr=False)


def seed_fingerprint(refresh_token: str) -> str:
    """Which configured refresh token seeded a chain (a hash: the token itself is not kept)."""
    return hashlib.sha256(refresh_token.encode()).hexdigest()[:32]


class Sealer:
    def __init__(self, keys: list[str]) -> None:
        """`keys`: Fernet keys (url-safe base64 of 32 bytes), the sealing one first."""
        if not keys:
            raise ValueError(f"at least one encryption key is needed; {KEY_HINT}")
        try:
            self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        except ValueError as exc:
            raise ValueError(f"an OAuth encryption key is not a Fernet key; {KEY_HINT}") from exc

    @classmethod
    def from_secret(cls, value: str) -> Sealer:
        """Keys as one secret holds them: separated by commas or white space."""
        return cls([key for key in value.replace(",", " ").split() if key])

    def seal(self, account: str, secrets: AccountSecrets) -> str:
        plain = orjson.dumps(
            {
                "account": account,
                "seed": secrets.seed,
                "refresh_token": secrets.refresh_token,
                "access_token": secrets.access_token,
            }
        )
        return self._fernet.encrypt(plain).decode()

    def open(self, account: str, sealed: str) -> AccountSecrets:
        try:
            plain = orjson.loads(self._fernet.decrypt(sealed.encode()))
        except (InvalidToken, orjson.JSONDecodeError) as exc:
            raise SealBroken("the record does not open with the configured keys") from exc
        if not isinstance(plain, dict) or plain.get("account") != account:
            raise SealBroken("the record was sealed for another account")
        return AccountSecrets(
            seed=str(plain.get("seed", "")),
            refresh_token=str(plain.get("refresh_token", "")),
            access_token=str(plain.get("access_token", "")),
        )
