"""The sign-in check, before anything else a request costs: an API call without a valid token
gets 401 and a UI page without a session goes to the sign-in page before the admin reads a
byte of the body or asks metering a question.

FastAPI reads a route's body before it solves the route's dependencies (where the roles are
checked), and the UI pages render only after their analytics queries; this middleware runs
first, so an anonymous caller costs neither. The routes still check roles as before.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from tollway_admin.security import IDENTITY_STATE_KEY, identify
from tollway_admin.ui import session
from tollway_common.errors import TollwayError
from tollway_common.http_errors import tollway_error_response

# Reachable without signing in: the sign-in pages, static assets, probes and metrics.
_PUBLIC_UI = ("/admin/login", "/admin/oidc/", "/admin/static/")
_PUBLIC = ("/healthz", "/readyz", "/metrics", "/docs", "/redoc", "/openapi.json")


def _public(path: str) -> bool:
    return path in _PUBLIC or path.startswith(_PUBLIC_UI)


class SignInGate:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or _public(path):
            await self.app(scope, receive, send)
            return
        request = Request(scope)  # no `receive`: the gate cannot read the body
        if path.startswith("/api/"):
            try:
                scope.setdefault("state", {})[IDENTITY_STATE_KEY] = await identify(request)
            except TollwayError as exc:
                request_id = str(scope.get("state", {}).get("request_id", ""))
                await tollway_error_response(exc, request_id)(scope, receive, send)
                return
        elif path == "/admin" or path.startswith("/admin/"):
            try:
                session.current(request)
            except session.SignInRequired:
                await RedirectResponse("/admin/login", status_code=303)(scope, receive, send)
                return
        await self.app(scope, receive, send)
