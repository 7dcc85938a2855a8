"""A local OIDC issuer for tests: RSA signing keys served as a JWKS with a discovery document,
tokens signed on demand, and key rotation."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

from tests.support.threaded_server import ServedInThread, ThreadedServer

AUDIENCE = "api://tollway"


class LocalIssuer(ServedInThread):
    def __init__(self) -> None:
        self._keys: dict[str, rsa.RSAPrivateKey] = {}
        self.current_kid = ""
        self._rotations = 0
        # What the next sign-in at /authorize will say about the user (auto-approved).
        self.login_claims: dict[str, Any] = {}
        self._codes: dict[str, dict[str, Any]] = {}
        self.jwks_requests = 0
        app = Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self._discovery),
                Route("/keys", self._jwks),
                Route("/authorize", self._authorize),
                Route("/token", self._token, methods=["POST"]),
            ]
        )
        self._server = ThreadedServer(app, "oidc-issuer")
        self.rotate()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}"

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
        return JSONResponse(
            {
                "issuer": self.url,
                "jwks_uri": f"{self.url}/keys",
                "authorization_endpoint": f"{self.url}/authorize",
                "token_endpoint": f"{self.url}/token",
            }
        )

    async def _authorize(self, request: Request) -> RedirectResponse:
        """Approve at once, as a user who is already signed in at the issuer would be."""
        query = request.query_params
        code = secrets.token_urlsafe(16)
        self._codes[code] = {
            "client_id": query["client_id"],
            "redirect_uri": query["redirect_uri"],
            "nonce": query["nonce"],
            "challenge": query["code_challenge"],
        }
        return RedirectResponse(
            f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        )

    async def _token(self, request: Request) -> JSONResponse:
        form = await request.form()
        grant = self._codes.pop(str(form.get("code")), None)
        verifier = str(form.get("code_verifier", ""))
        digest = hashlib.sha256(verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).decode().rstrip("=")
        if (
            grant is None
            or grant["redirect_uri"] != form.get("redirect_uri")
            or grant["challenge"] != challenge
        ):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        id_token = self.token(
            {**self.login_claims, "nonce": grant["nonce"]}, aud=grant["client_id"]
        )
        return JSONResponse({"id_token": id_token, "token_type": "Bearer", "expires_in": 300})

    async def _jwks(self, request: Request) -> JSONResponse:
        self.jwks_requests += 1
        keys = []
        for kid, key in self._keys.items():
            jwk: dict[str, Any] = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return JSONResponse({"keys": keys})
