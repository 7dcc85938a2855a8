"""Mount the admin UI on the admin app: pages, static files, sessions."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from fastapi import FastAPI, Request
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from tollway_admin.settings import AdminSettings
from tollway_admin.ui import oidc_login
from tollway_admin.ui.pages import (
    audit,
    budgets,
    key_detail,
    keys,
    model_edit,
    model_new,
    models,
    overview,
    policy_edit,
    requests,
    signin,
    teams,
    usage,
    users,
)
from tollway_admin.ui.session import SESSION_TTL_S, SignInRequired

log = logging.getLogger(__name__)


def session_secret(settings: AdminSettings) -> str:
    """The configured signing secret, never derived from the admin token (whoever learns one
    must not be able to forge the other)."""
    configured = settings.signing_secret()
    if configured is not None:
        return configured
    log.warning(
        "no TOLLWAY_ADMIN_SESSION_SECRET: UI sessions are signed with a key of this process "
        "only and end when it restarts; set one (the same on every replica)"
    )
    return secrets.token_urlsafe(32)


def install_ui(app: FastAPI, settings: AdminSettings) -> None:
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(settings),
        session_cookie="tollway_admin",
        max_age=SESSION_TTL_S,
        same_site="strict",
        https_only=settings.cookie_secure,
    )
    static = Path(__file__).parent / "static"
    app.mount("/admin/static", StaticFiles(directory=static), name="ui-static")
    for page in (
        signin,
        overview,
        keys,
        key_detail,
        teams,
        users,
        budgets,
        models,
        model_new,
        model_edit,
        policy_edit,
        usage,
        requests,
        audit,
    ):
        app.include_router(page.router)
    app.include_router(oidc_login.router)
    app.state.oidc_login = (
        oidc_login.OidcLogin(settings)
        if settings.oidc.enabled and settings.oidc_client_id
        else None
    )

    async def to_sign_in(request: Request, exc: Exception) -> Response:
        return RedirectResponse("/admin/login", status_code=303)

    app.add_exception_handler(SignInRequired, to_sign_in)
