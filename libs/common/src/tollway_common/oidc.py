"""Verify OIDC bearer tokens (Entra ID or any issuer with a JWKS) and map their claims.

Signing keys are fetched from the issuer's JWKS, cached, and fetched again when a token names
a key id the cache does not know (the issuer rotated its keys), at most once per
`jwks_refresh_min_s` so a flood of forged key ids cannot hammer the issuer.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt
from pydantic import BaseModel, ConfigDict, Field

from tollway_common.errors import AuthenticationFailed


class OidcSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    issuer: str | None = None
    audience: str | None = None
    jwks_url: str | None = Field(
        default=None, description="Defaults to the jwks_uri of the issuer's discovery document."
    )
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])
    user_claim: str = "sub"
    team_claim: str = "team"
    org_claim: str = "org"
    roles_claim: str = "roles"
    leeway_s: float = 30.0
    jwks_refresh_min_s: float = 30.0
    jwks_ttl_s: float = 3600.0

    @property
    def enabled(self) -> bool:
        return self.issuer is not None


@dataclass(frozen=True, slots=True)
class TokenClaims:
    subject: str
    user_id: str
    team_id: str
    org_id: str
    roles: tuple[str, ...]
    nonce: str = ""


def looks_like_jwt(token: str) -> bool:
    return token.startswith("eyJ") and token.count(".") == 2


def _claim_text(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if isinstance(value, list):
        return str(value[0]) if value else ""
    return "" if value is None else str(value)


def _claim_list(claims: dict[str, Any], name: str) -> tuple[str, ...]:
    value = claims.get(name)
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list):
        return tuple(str(item) for item in value)
    return ()


class OidcVerifier:
    def __init__(self, settings: OidcSettings) -> None:
        if settings.issuer is None:
            raise ValueError("OIDC needs an issuer")
        self._settings = settings
        self._issuer = settings.issuer
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def verify(self, token: str) -> TokenClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthenticationFailed(f"The bearer token is not a valid JWT: {exc}.") from None
        key = await self._signing_key(str(header.get("kid", "")))
        settings = self._settings
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=settings.algorithms,
                audience=settings.audience,
                issuer=self._issuer,
                leeway=settings.leeway_s,
                options={"require": ["exp", "iss", "sub"], "verify_aud": bool(settings.audience)},
            )
        except jwt.PyJWTError as exc:
            raise AuthenticationFailed(f"The bearer token was refused: {exc}.") from None
        return TokenClaims(
            subject=str(claims["sub"]),
            user_id=_claim_text(claims, settings.user_claim),
            team_id=_claim_text(claims, settings.team_claim),
            org_id=_claim_text(claims, settings.org_claim),
            roles=_claim_list(claims, settings.roles_claim),
            nonce=str(claims.get("nonce", "")),
        )

    async def _signing_key(self, kid: str) -> jwt.PyJWK:
        stale = time.monotonic() - self._fetched_at > self._settings.jwks_ttl_s
        if kid in self._keys and not stale:
            return self._keys[kid]
        async with self._lock:
            since = time.monotonic() - self._fetched_at
            if (kid not in self._keys and since >= self._settings.jwks_refresh_min_s) or stale:
                await self._refresh()
        key = self._keys.get(kid)
        if key is None:
            raise AuthenticationFailed(
                f"The bearer token is signed with key id '{kid}', which the issuer does not "
                "publish."
            )
        return key

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            # Shared by every user's sign-in: a cookie the issuer sets must not follow the next.
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=10), cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    async def _refresh(self) -> None:
        session = self._http()
        try:
            url = self._settings.jwks_url or await self._discover_jwks_url(session)
            async with session.get(url) as response:
                response.raise_for_status()
                document = await response.json(content_type=None)
            keys = jwt.PyJWKSet.from_dict(document)
        except (aiohttp.ClientError, TimeoutError, ValueError, jwt.PyJWTError) as exc:
            raise AuthenticationFailed(
                f"The token issuer's signing keys could not be fetched: {exc}."
            ) from None
        self._keys = {key.key_id: key for key in keys.keys if key.key_id}
        self._fetched_at = time.monotonic()

    async def _discover_jwks_url(self, session: aiohttp.ClientSession) -> str:
        return str((await self._discovery(session))["jwks_uri"])

    async def discovery(self) -> dict[str, Any]:
        """The issuer's discovery document (authorization and token endpoints, JWKS)."""
        return await self._discovery(self._http())

    async def _discovery(self, session: aiohttp.ClientSession) -> dict[str, Any]:
        url = f"{self._issuer.rstrip('/')}/.well-known/openid-configuration"
        async with session.get(url) as response:
            response.raise_for_status()
            document: dict[str, Any] = await response.json(content_type=None)
        return document

    async def post_form(self, url: str, form: dict[str, str]) -> dict[str, Any]:
        async with self._http().post(url, data=form) as response:
            answer: dict[str, Any] = await response.json(content_type=None)
            if response.status >= 400:
                refusal = answer.get("error", response.status)
                raise AuthenticationFailed(f"The token endpoint refused the sign-in: {refusal}.")
        return answer
