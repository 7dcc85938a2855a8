"""A fake Entra ID / OAuth 2.0 token service on loopback: the v2.0 token endpoint
(client-credentials grants with a secret or a federated assertion as AKS Workload Identity sends
one, refresh-token grants with rotating refresh tokens) and the managed identity
endpoints (IMDS, App Service IDENTITY_ENDPOINT, MSI_ENDPOINT), each speaking its real wire
format. Fake upstreams ask it whether a bearer token they receive was issued, and for what.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.threaded_server import ServedInThread, ThreadedServer

IDENTITY_HEADER = "fake-identity-header-4b1d"
_JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MSI_SECRET = "fake-msi-secret-77c0"


@dataclass(frozen=True)
class Issued:
    scope: str
    client_id: str
    grant: str


@dataclass
class TokenRequestSeen:
    path: str
    method: str
    headers: dict[str, str]
    params: dict[str, str]


@dataclass
class FakeTokenServer(ServedInThread):
    """`clients` maps client ids to their secrets; `refresh_tokens` the refresh tokens it will
    take (each is replaced by a new one when used); `reply_headers` ride on every token answer.
    `federated` maps client ids to the federated token (a Kubernetes service account token) each
    signs in with. `tls` (certificate, key) serves HTTPS, as an Entra authority must be for
    azure-identity. Set `fail_with` to answer every request with that status, and clear `gate`
    to hold answers until the test sets it again."""

    clients: dict[str, str] = field(default_factory=dict)
    refresh_tokens: dict[str, str] = field(default_factory=dict)
    federated: dict[str, str] = field(default_factory=dict)
    tls: tuple[Path, Path] | None = None
    expires_in: int = 3600
    fail_with: int | None = None
    requests: list[TokenRequestSeen] = field(default_factory=list)
    reply_headers: dict[str, str] = field(default_factory=dict)
    issued: dict[str, Issued] = field(default_factory=dict)
    gate: threading.Event = field(default_factory=threading.Event)
    received: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.gate.set()
        app = Starlette(
            routes=[
                Route("/{tenant}/oauth2/v2.0/token", self._token, methods=["POST"]),
                Route("/generic/token", self._token, methods=["POST"]),
                Route("/metadata/identity/oauth2/token", self._imds, methods=["GET"]),
                Route("/msi/token", self._app_service, methods=["GET"]),
                Route("/MSI/token", self._legacy_msi, methods=["GET"]),
            ]
        )
        self._server = ThreadedServer(app, "fake token server", self.tls)
        self.port = self._server.port

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def _before_stop(self) -> None:
        self.gate.set()

    def issued_for(self, token: str) -> Issued | None:
        return self.issued.get(token)

    async def _seen(self, request: Request, params: dict[str, str]) -> Response | None:
        self.requests.append(
            TokenRequestSeen(request.url.path, request.method, dict(request.headers), params)
        )
        self.received.set()
        await asyncio.to_thread(self.gate.wait)
        if self.fail_with is not None:
            body = {"error": "temporarily_unavailable"}
            return JSONResponse(body, status_code=self.fail_with)
        return None

    def _issue(self, scope: str, client_id: str, grant: str) -> str:
        token = f"fake-access-{secrets.token_urlsafe(12)}"
        self.issued[token] = Issued(scope, client_id, grant)
        return token

    async def _token(self, request: Request) -> Response:
        form = {key: str(value) for key, value in (await request.form()).items()}
        refused = await self._seen(request, form)
        if refused is not None:
            return refused
        client_id = form.get("client_id", "")
        grant = form.get("grant_type")
        if grant == "client_credentials" and form.get("client_assertion_type") == _JWT_BEARER:
            expected = self.federated.get(client_id)
            if expected is None or form.get("client_assertion") != expected:
                return _oauth_error(
                    401,
                    "invalid_client",
                    "AADSTS700213: No matching federated identity record found.",
                )
            grant = "client_assertion"
        elif grant == "client_credentials":
            if self.clients.get(client_id) != form.get("client_secret"):
                return _oauth_error(
                    401, "invalid_client", "AADSTS7000215: Invalid client secret provided."
                )
        elif grant == "refresh_token":
            presented = form.get("refresh_token", "")
            if self.refresh_tokens.get(client_id) != presented:
                return _oauth_error(400, "invalid_grant", "AADSTS70000: The refresh token is bad.")
            self.refresh_tokens[client_id] = f"fake-refresh-{secrets.token_urlsafe(8)}"
        else:
            return _oauth_error(400, "unsupported_grant_type", "AADSTS70003: unsupported grant.")
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "ext_expires_in": self.expires_in,
            "access_token": self._issue(form.get("scope", ""), client_id, str(grant)),
        }
        if grant == "refresh_token":
            body["refresh_token"] = self.refresh_tokens[client_id]
        return JSONResponse(body, headers=self.reply_headers)

    async def _imds(self, request: Request) -> Response:
        params = dict(request.query_params)
        refused = await self._seen(request, params)
        if refused is not None:
            return refused
        if request.headers.get("metadata") != "true":
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        return self._managed(params, "imds", {"expires_in": str(self.expires_in)})

    async def _app_service(self, request: Request) -> Response:
        params = dict(request.query_params)
        refused = await self._seen(request, params)
        if refused is not None:
            return refused
        if request.headers.get("x-identity-header") != IDENTITY_HEADER:
            return JSONResponse({"statusCode": 401, "message": "Unauthorized"}, status_code=401)
        expires_on = str(int(time.time()) + self.expires_in)
        return self._managed(params, "identity_endpoint", {"expires_on": expires_on})

    async def _legacy_msi(self, request: Request) -> Response:
        params = dict(request.query_params)
        refused = await self._seen(request, params)
        if refused is not None:
            return refused
        if request.headers.get("secret") != MSI_SECRET:
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        expires_on = time.strftime(
            "%m/%d/%Y %I:%M:%S %p +00:00", time.gmtime(time.time() + self.expires_in)
        )
        return self._managed(params, "msi_endpoint", {"expires_on": expires_on})

    def _managed(self, params: dict[str, str], grant: str, expiry: dict[str, str]) -> Response:
        resource = params.get("resource", "")
        client_id = params.get("client_id") or params.get("clientid") or "system-assigned"
        token = self._issue(f"{resource}/.default", client_id, grant)
        return JSONResponse(
            {"access_token": token, "resource": resource, "token_type": "Bearer", **expiry}
        )


def _oauth_error(status: int, error: str, description: str) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)
