"""A local OIDC issuer for tests: RSA signing keys served as a JWKS with a discovery document,
tokens signed on demand, and key rotation."""

from __future__ import annotations

import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.threaded_server import ThreadedServer

AUDIENCE = "api://tollway"


class LocalIssuer:
    def __init__(self) -> None:
        self._keys: dict[str, rsa.RSAPrivateKey] = {}
        self.current_kid = ""
        self._rotations = 0
        self.jwks_requests = 0
        app = Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self._discovery),
                Route("/keys", self._jwks),
            ]
        )
        self._server = ThreadedServer(app, "oidc-issuer")
        self.rotate()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}"

    def __enter__(self) -> LocalIssuer:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()

    def rotate(self, keep_old: bool = False) -> str:
        """Publish a new signing key (dropping the old ones unless `keep_old`); its kid."""
        self._rotations += 1
        kid = f"kid-{self._rotations}"
        if not keep_old:
            self._keys.clear()
        self._keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.current_kid = kid
        return kid

    def token(self, claims: dict[str, Any], **overrides: Any) -> str:
        """A token valid for five minutes carrying `claims`; `overrides` replace standard ones."""
        now = int(time.time())
        payload = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": "user-1",
            "iat": now,
            "exp": now + 300,
            **claims,
        }
        payload.update(overrides)
        key = self._keys[self.current_kid]
        return jwt.encode(payload, key, algorithm="RS256", headers={"kid": self.current_kid})

    async def _discovery(self, request: Request) -> JSONResponse:
        return JSONResponse({"issuer": self.url, "jwks_uri": f"{self.url}/keys"})

    async def _jwks(self, request: Request) -> JSONResponse:
        self.jwks_requests += 1
        keys = []
        for kid, key in self._keys.items():
            jwk: dict[str, Any] = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return JSONResponse({"keys": keys})
