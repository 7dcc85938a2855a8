"""An OIDC issuer's signing keys without a server: they sign tokens and publish themselves as a
JWKS document. `oidc_issuer.LocalIssuer` serves them over HTTP; unit tests hand them to the
verifier through `FakeJwks`, a JWKS endpoint they can slow down or break, on a `Clock` they
move themselves."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

AUDIENCE = "api://tollway"

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class SigningKeys:
    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self._keys: dict[str, SigningKey] = {}
        self.current_kid = ""
        self._rotations = 0
        self.rotate()

    def rotate(self, keep_old: bool = False) -> str:
        """Publish a new RSA signing key (dropping the old ones unless `keep_old`); its kid."""
        self._rotations += 1
        kid = f"kid-{self._rotations}"
        if not keep_old:
            self._keys.clear()
        self._keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.current_kid = kid
        return kid

    def add_ec_key(self, kid: str) -> None:
        """Publish an EC (P-256) key next to the others, leaving the current one as it is."""
        self._keys[kid] = ec.generate_private_key(ec.SECP256R1())

    def token(self, claims: dict[str, Any], **overrides: Any) -> str:
        """A token valid for five minutes carrying `claims`; `overrides` replace standard ones."""
        return self.naming(self.current_kid, claims, **overrides)

    def naming(self, kid: str, claims: dict[str, Any], **overrides: Any) -> str:
        """Like `token`, signed RS256 with the current key but naming `kid` in its header."""
        now = int(time.time())
        payload = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": "user-1",
            "iat": now,
            "exp": now + 300,
            **claims,
        }
        payload.update(overrides)
        key = self._keys[self.current_kid]
        return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid, key in self._keys.items():
            if isinstance(key, rsa.RSAPrivateKey):
                jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
                keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
            else:
                jwk = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
                keys.append({**jwk, "kid": kid, "use": "sig", "alg": "ES256"})
        return {"keys": keys}


class FakeJwks:
    """The issuer's JWKS endpoint as the verifier's `fetch_jwks`: it counts fetches, and can be
    held (a slow issuer: fetches wait until `release`) or made to fail."""

    def __init__(self, keys: SigningKeys) -> None:
        self.keys = keys
        self.fetches = 0  # fetches started
        self.answered = 0  # fetches that returned or failed
        self.error: Exception | None = None
        self._open = asyncio.Event()
        self._open.set()

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    async def __call__(self) -> Mapping[str, Any]:
        self.fetches += 1
        try:
            await self._open.wait()
            if self.error is not None:
                raise self.error
            return self.keys.jwks()
        finally:
            self.answered += 1


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
