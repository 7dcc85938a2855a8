"""A local OIDC issuer for tests: RSA signing keys served as a JWKS with a discovery document,
tokens signed on demand, key rotation, and a JWKS endpoint that can be held (a slow issuer)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import secrets
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

from tests.support.oidc_keys import AUDIENCE, SigningKeys
from tests.support.threaded_server import ServedInThread, ThreadedServer

__all__ = ["AUDIENCE", "LocalIssuer"]


class LocalIssuer(ServedInThread):
    def __init__(self) -> None:
        # What the next sign-in at /authorize will say about the user (auto-approved).
        self.login_claims: dict[str, Any] = {}
        self._codes: dict[str, dict[str, Any]] = {}
        self.jwks_requests = 0
        self._jwks_open = threading.Event()
        self._jwks_open.set()
        app = Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self._discovery),
                Route("/keys", self._jwks),
                Route("/authorize", self._authorize),
                Route("/token", self._token, methods=["POST"]),
            ]
        )
        self._server = ThreadedServer(app, "oidc-issuer")
        self.keys = SigningKeys(self.url)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}"

    @property
    def current_kid(self) -> str:
        return self.keys.current_kid

    def rotate(self, keep_old: bool = False) -> str:
        """Publish a new signing key (dropping the old ones unless `keep_old`); its kid."""
        return self.keys.rotate(keep_old)

    def token(self, claims: dict[str, Any], **overrides: Any) -> str:
        """A token valid for five minutes carrying `claims`; `overrides` replace standard ones."""
        return self.keys.token(claims, **overrides)

    @contextlib.contextmanager
    def jwks_held(self) -> Iterator[None]:
        """Inside the block, JWKS requests are counted and then wait (a slow issuer); they are
        answered when it ends."""
        self._jwks_open.clear()
        try:
            yield
        finally:
            self._jwks_open.set()

    def _before_stop(self) -> None:
        self._jwks_open.set()

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
        await asyncio.to_thread(self._jwks_open.wait)
        return JSONResponse(self.keys.jwks())
