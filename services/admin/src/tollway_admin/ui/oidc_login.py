"""Browser sign-in through the OIDC issuer's own login page: authorization code with PKCE,
state and nonce checked, the ID token verified against the issuer's JWKS, roles from its
claims."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from tollway_admin.oidc_roles import identity_from_claims
from tollway_admin.settings import AdminSettings
from tollway_admin.ui import session
from tollway_common.errors import AuthenticationFailed, TollwayError
from tollway_common.oidc import OidcVerifier

router = APIRouter(prefix="/admin", include_in_schema=False)


class OidcLogin:
    def __init__(self, settings: AdminSettings) -> None:
        assert settings.oidc_client_id is not None
        self.client_id = settings.oidc_client_id
        self.client_secret = settings.oidc_client_secret
        self.redirect_url = settings.oidc_redirect_url
        self.role_mapping = settings.oidc_admin_roles
        # ID tokens are issued to this client: their audience is the client id.
        self.verifier = OidcVerifier(settings.oidc.model_copy(update={"audience": self.client_id}))

    def redirect_uri(self, request: Request) -> str:
        return self.redirect_url or str(request.url_for("oidc-callback"))


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _login(request: Request) -> OidcLogin:
    login: OidcLogin | None = request.app.state.oidc_login
    if login is None:
        raise AuthenticationFailed("OIDC sign-in is not configured on this gateway.")
    return login


def _failed(message: str) -> RedirectResponse:
    return RedirectResponse(f"/admin/login?{urlencode({'error': message})}", status_code=303)


@router.get("/login/oidc")
async def start(request: Request) -> Response:
    try:
        login = _login(request)
        authorize = (await login.verifier.discovery())["authorization_endpoint"]
    except (TollwayError, KeyError, OSError) as exc:
        return _failed(f"OIDC sign-in is not available: {exc}")
    pending = {
        "state": secrets.token_urlsafe(24),
        "nonce": secrets.token_urlsafe(24),
        "verifier": secrets.token_urlsafe(48),
    }
    request.session["oidc"] = pending
    query = urlencode(
        {
            "response_type": "code",
            "client_id": login.client_id,
            "redirect_uri": login.redirect_uri(request),
            "scope": "openid profile email",
            "state": pending["state"],
            "nonce": pending["nonce"],
            "code_challenge": _challenge(pending["verifier"]),
            "code_challenge_method": "S256",
        }
    )
    return RedirectResponse(f"{authorize}?{query}", status_code=303)


@router.get("/oidc/callback", name="oidc-callback")
async def callback(request: Request, code: str = "", state: str = "", error: str = "") -> Response:
    pending = request.session.pop("oidc", None)
    if error:
        return _failed(f"The issuer refused the sign-in: {error}.")
    if not pending or not hmac.compare_digest(str(pending.get("state", "")), state) or not code:
        return _failed("The sign-in expired or did not start here; try again.")
    try:
        login = _login(request)
        token_url = (await login.verifier.discovery())["token_endpoint"]
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": login.redirect_uri(request),
            "client_id": login.client_id,
            "code_verifier": pending["verifier"],
        }
        if login.client_secret is not None:
            form["client_secret"] = login.client_secret.get_secret_value()
        tokens = await login.verifier.post_form(token_url, form)
        claims = await login.verifier.verify(str(tokens.get("id_token", "")))
        if not hmac.compare_digest(claims.nonce, pending["nonce"]):
            raise AuthenticationFailed("The ID token was not issued for this sign-in (nonce).")
        session.establish(request, identity_from_claims(claims, login.role_mapping))
    except (TollwayError, KeyError, OSError) as exc:
        message = exc.message if isinstance(exc, TollwayError) else str(exc)
        return _failed(message)
    return RedirectResponse("/admin", status_code=303)
