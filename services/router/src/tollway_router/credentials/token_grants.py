"""What to send a token endpoint for each kind of upstream OAuth credential, and how to read
its answer (pure: `token_cache.py` sends the request and keeps the tokens).

Client-credentials and refresh-token grants are RFC 6749 form posts; Entra ID's managed
identity endpoints are GETs with a platform header: IMDS (`Metadata: true`), App Service's
IDENTITY_ENDPOINT (`X-IDENTITY-HEADER`, api-version 2019-08-01) and the older MSI_ENDPOINT
(`Secret`, api-version 2017-09-01).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from tollway_common.control import (
    AzureIdentity,
    EntraClientCredentials,
    EntraManagedIdentity,
    OAuthClientCredentials,
    OAuthRefreshToken,
    UpstreamAuth,
)
from tollway_router.settings import ManagedIdentitySettings

# Without an expiry in the answer, a token is treated as short-lived rather than trusted long.
DEFAULT_LIFETIME_S = 300.0
# Refresh this long before expiry (Entra's own libraries use five minutes), or halfway through
# the lifetime of a token shorter than twice that.
REFRESH_MARGIN_S = 300.0
_AADSTS = re.compile(r"\bAADSTS\d+\b")
# MSI_ENDPOINT (2017-09-01) writes `09/14/2017 00:00:00 PM +00:00`: 12-hour clock, but the
# documented example has hour 00, so both readings are tried.
_LEGACY_EXPIRES_ON = ("%m/%d/%Y %I:%M:%S %p %z", "%m/%d/%Y %H:%M:%S %p %z")


@dataclass(frozen=True, slots=True)
class TokenRequest:
    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    form: Mapping[str, str] | None = field(default=None, repr=False)
    query: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Token:
    value: str = field(repr=False)
    expires_at: float
    refresh_at: float
    # A rotated refresh token, when the endpoint sent one (refresh-token grant).
    refresh_token: str | None = field(default=None, repr=False)


class TokenRefused(Exception):
    """The token endpoint answered and said no (a bad secret, an unknown client or identity)."""


class TokenUnavailable(Exception):
    """The token endpoint could not be asked, or gave an answer that is not a token."""


Secret = Callable[[str], str]


def token_request(
    auth: UpstreamAuth,
    scope: str,
    secret: Secret,
    identity: ManagedIdentitySettings,
    refresh_token: str | None = None,
) -> TokenRequest:
    """The request that obtains an access token for `scope`; `secret` resolves a secret
    reference, `refresh_token` is the newest one the endpoint sent (refresh-token grant)."""
    if isinstance(auth, EntraClientCredentials):
        url = f"{auth.authority_host}/{auth.tenant_id}/oauth2/v2.0/token"
        return _client_credentials(url, auth.client_id, secret(auth.client_secret), scope)
    if isinstance(auth, OAuthClientCredentials):
        return _client_credentials(
            auth.token_url, auth.client_id, secret(auth.client_secret), scope
        )
    if isinstance(auth, OAuthRefreshToken):
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token or secret(auth.refresh_token),
            "client_id": auth.client_id,
        }
        if scope:  # optional in a refresh (RFC 6749 section 6): the grant's own scope stays
            form["scope"] = scope
        if auth.client_secret is not None:
            form["client_secret"] = secret(auth.client_secret)
        return TokenRequest("POST", auth.token_url, _FORM_HEADERS, form)
    if isinstance(auth, AzureIdentity):
        raise TypeError("azure_identity tokens come from azure-identity (azure_identity.py)")
    return _managed_identity(auth, scope, identity)


_FORM_HEADERS = {"accept": "application/json"}


def _client_credentials(url: str, client_id: str, client_secret: str, scope: str) -> TokenRequest:
    form = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": client_secret,
        "scope": scope,
    }
    return TokenRequest("POST", url, _FORM_HEADERS, form)


def _managed_identity(
    auth: EntraManagedIdentity, scope: str, identity: ManagedIdentitySettings
) -> TokenRequest:
    # Managed identity endpoints take the v1 `resource`, not a v2 scope.
    resource = scope.removesuffix("/.default")
    client = {"client_id": auth.client_id} if auth.client_id else {}
    if identity.identity_endpoint and identity.identity_header:
        return TokenRequest(
            "GET",
            identity.identity_endpoint,
            {"X-IDENTITY-HEADER": identity.identity_header.get_secret_value()},
            query={"api-version": "2019-08-01", "resource": resource, **client},
        )
    if identity.msi_endpoint and identity.msi_secret:
        legacy_client = {"clientid": auth.client_id} if auth.client_id else {}
        return TokenRequest(
            "GET",
            identity.msi_endpoint,
            {"Secret": identity.msi_secret.get_secret_value()},
            query={"api-version": "2017-09-01", "resource": resource, **legacy_client},
        )
    return TokenRequest(
        "GET",
        identity.imds_url,
        {"Metadata": "true"},
        query={"api-version": "2018-02-01", "resource": resource, **client},
    )


def parse_token_response(status: int, body: bytes, now: float) -> Token:
    """Read a token endpoint's answer; raise TokenRefused or TokenUnavailable."""
    parsed = _json(body)
    if status >= 500 or status in (408, 429):
        raise TokenUnavailable(f"the token endpoint answered {status}")
    if status >= 400:
        raise TokenRefused(_refusal(status, parsed))
    token = parsed.get("access_token") if parsed is not None else None
    if not isinstance(token, str) or not token:
        raise TokenUnavailable("the token endpoint's answer has no access_token")
    assert parsed is not None
    expires_at = _expires_at(parsed, now)
    lifetime = max(0.0, expires_at - now)
    refresh_at = expires_at - min(REFRESH_MARGIN_S, lifetime / 2)
    refresh_in = _number(parsed.get("refresh_in"))
    if refresh_in is not None:
        refresh_at = min(refresh_at, now + refresh_in)
    rotated = parsed.get("refresh_token")
    return Token(
        value=token,
        expires_at=expires_at,
        refresh_at=refresh_at,
        refresh_token=rotated if isinstance(rotated, str) and rotated else None,
    )


def _json(body: bytes) -> dict[str, Any] | None:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _refusal(status: int, parsed: dict[str, Any] | None) -> str:
    """The OAuth error code and Entra's AADSTS number; never the description's free text,
    which may quote what was sent."""
    if parsed is None:
        return f"HTTP {status}"
    code = parsed.get("error")
    code = code if isinstance(code, str) else f"HTTP {status}"
    description = parsed.get("error_description")
    found = _AADSTS.search(description) if isinstance(description, str) else None
    return f"{code} ({found.group(0)})" if found else code


def _expires_at(parsed: dict[str, Any], now: float) -> float:
    expires_in = _number(parsed.get("expires_in"))
    if expires_in is not None:
        return now + expires_in
    expires_on = parsed.get("expires_on")
    on = _number(expires_on)
    if on is not None:
        return on
    if isinstance(expires_on, str):
        for layout in _LEGACY_EXPIRES_ON:
            try:
                return datetime.strptime(expires_on, layout).timestamp()
            except ValueError:
                continue
    return now + DEFAULT_LIFETIME_S


def _number(value: Any) -> float | None:
    """Managed identity endpoints send their numbers as strings."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None
