"""Browser sessions for the admin UI: sign-in with the admin token or an OIDC token, a signed
HTTP-only cookie holding only who signed in (never a token) and a session id, and a CSRF token
per session that every form must send back. Signing out revokes the session id everywhere
(`revocations.py`), so a copied cookie dies with the sign-out."""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Any

from fastapi import Request

from tollway_admin.security import AdminIdentity, Role, identity_for_token
from tollway_admin.ui.revocations import RevokedSessions
from tollway_common.contract import AuditActor
from tollway_common.errors import PermissionDenied

SESSION_TTL_S = 8 * 3600


class SignInRequired(Exception):
    """Raised by pages when nobody is signed in; the app answers with a redirect."""


async def sign_in(request: Request, token: str) -> AdminIdentity:
    identity = await identity_for_token(request, token.strip())
    establish(request, identity)
    return identity


def establish(request: Request, identity: AdminIdentity) -> None:
    """Start a fresh session for `identity` (a new CSRF token, whatever was there before)."""
    request.session.clear()
    request.session.update(
        {
            "actor": identity.actor.model_dump(mode="json"),
            "team_id": identity.team_id,
            "expires_at": time.time() + SESSION_TTL_S,
            "csrf": secrets.token_urlsafe(32),
            "sid": secrets.token_urlsafe(24),
        }
    )


async def sign_out(request: Request) -> None:
    session_id = request.session.get("sid")
    request.session.clear()
    if isinstance(session_id, str):
        await _revocations(request).revoke(session_id)


def current(request: Request) -> AdminIdentity:
    data: dict[str, Any] = request.session
    if not data or data.get("expires_at", 0) < time.time():
        raise SignInRequired
    session_id = data.get("sid")
    if not isinstance(session_id, str) or _revocations(request).revoked(session_id):
        raise SignInRequired
    actor = AuditActor.model_validate(data["actor"])
    return AdminIdentity(
        actor=actor,
        roles=frozenset(Role(role) for role in actor.roles),
        team_id=str(data.get("team_id", "")),
    )


def _revocations(request: Request) -> RevokedSessions:
    revocations: RevokedSessions = request.app.state.revoked_sessions
    return revocations


def csrf_token(request: Request) -> str:
    return str(request.session.get("csrf", ""))


def check_csrf(request: Request, sent: str) -> None:
    expected = csrf_token(request)
    if not expected or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise PermissionDenied("The form is stale or forged (CSRF check failed); reload the page.")
