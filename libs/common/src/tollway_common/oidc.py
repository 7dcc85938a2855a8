"""Verify OIDC bearer tokens (Entra ID or any issuer with a JWKS) and map their claims.

The I/O half of `jwks_cache.py`, which decides when the issuer's signing keys are fetched: this
module fetches them (one fetch at a time, its outcome shared by every caller waiting on it) and
checks tokens against them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tollway_common.errors import AuthenticationFailed
from tollway_common.jwks_cache import JwksCache, JwksTimings, Step

log = logging.getLogger(__name__)

JwksFetch = Callable[[], Awaitable[Mapping[str, Any]]]


class OidcSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    issuer: str | None = None
    # What tokens for this service carry in `aud`. Give edge and admin different audiences, so
    # a token for one (or for any other application of the same issuer) is refused by the other.
    audience: str | None = None
    # Accept tokens the issuer minted for any application: only on purpose, warned at start.
    allow_any_audience: bool = False
    jwks_url: str | None = Field(
        default=None, description="Defaults to the jwks_uri of the issuer's discovery document."
    )
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])
    user_claim: str = "sub"
    team_claim: str = "team"
    org_claim: str = "org"
    roles_claim: str = "roles"
    leeway_s: float = Field(default=30.0, ge=0)
    jwks_refresh_min_s: float = Field(default=30.0, ge=0)
    jwks_ttl_s: float = Field(default=3600.0, ge=0)
    jwks_backoff_s: float = Field(default=5.0, ge=0)
    jwks_backoff_max_s: float = Field(default=300.0, ge=0)

    @field_validator("issuer", "audience", "jwks_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # An empty environment variable must not read as "an audience that checks nothing".
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _audience_is_required(self) -> OidcSettings:
        if self.issuer is not None and self.audience is None and not self.allow_any_audience:
            raise ValueError(
                "OIDC with an issuer needs an audience: set `audience` "
                "(TOLLWAY_EDGE_OIDC__AUDIENCE or TOLLWAY_ADMIN_OIDC__AUDIENCE) to the value "
                "tokens for this service carry in `aud`, its app's client id or application ID "
                "URI; otherwise a token the issuer minted for any other application would be "
                "accepted. To accept every audience on purpose, set `allow_any_audience: true`."
            )
        return self

    @property
    def enabled(self) -> bool:
        return self.issuer is not None

    @property
    def jwks_timings(self) -> JwksTimings:
        return JwksTimings(
            ttl_s=self.jwks_ttl_s,
            refresh_min_s=self.jwks_refresh_min_s,
            backoff_s=self.jwks_backoff_s,
            backoff_max_s=self.jwks_backoff_max_s,
        )


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


def _token_claims(claims: dict[str, Any], settings: OidcSettings) -> TokenClaims:
    subject = str(claims["sub"]).strip()
    user_id = _claim_text(claims, settings.user_claim).strip()
    # Both name who is calling; empty, they would name nobody, and a filter by user with an
    # empty user reads everybody's usage.
    if not subject or not user_id:
        empty = "sub" if not subject else settings.user_claim
        raise AuthenticationFailed(
            f"The bearer token's '{empty}' claim is empty; the token must name its user."
        )
    return TokenClaims(
        subject=subject,
        user_id=user_id,
        team_id=_claim_text(claims, settings.team_claim),
        org_id=_claim_text(claims, settings.org_claim),
        roles=_claim_list(claims, settings.roles_claim),
        nonce=str(claims.get("nonce", "")),
    )


class OidcVerifier:
    """Checks tokens against the issuer's signing keys.

    `fetch_jwks` (default: over HTTP from `jwks_url` or the discovery document) and `clock`
    are parameters so tests can stand in a slow or failing issuer and move time themselves.
    """

    def __init__(
        self,
        settings: OidcSettings,
        fetch_jwks: JwksFetch | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if settings.issuer is None:
            raise ValueError("OIDC needs an issuer")
        if settings.audience is None:
            log.warning(
                "OIDC tokens from %s are accepted for any audience (allow_any_audience): a "
                "token the issuer minted for another application passes too. Set an audience.",
                settings.issuer,
            )
        self._settings = settings
        self._issuer = settings.issuer
        self._timings = settings.jwks_timings
        self._fetch_jwks = fetch_jwks or self._fetch_jwks_over_http
        self._clock = clock
        self._cache: JwksCache[jwt.PyJWK] = JwksCache()
        self._refreshing: asyncio.Task[None] | None = None
        self._jwks_url = settings.jwks_url
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._refreshing is not None:
            self._refreshing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refreshing
        if self._session is not None:
            await self._session.close()

    async def verify(self, token: str) -> TokenClaims:
        settings = self._settings
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthenticationFailed(f"The bearer token is not a valid JWT: {exc}.") from None
        key = await self._signing_key(str(header.get("kid", "")))
        try:
            # The PyJWK, not its bare key: PyJWT then refuses a token whose `alg` is not the
            # key's (an RS256 token naming an EC key id) instead of failing inside the crypto.
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=settings.algorithms,
                audience=settings.audience,
                issuer=self._issuer,
                leeway=settings.leeway_s,
                options={
                    "require": ["exp", "iss", "sub"],
                    "verify_aud": settings.audience is not None,
                },
            )
        except jwt.PyJWTError as exc:
            raise AuthenticationFailed(f"The bearer token was refused: {exc}.") from None
        return _token_claims(claims, settings)

    async def _signing_key(self, kid: str) -> jwt.PyJWK:
        step = self._cache.step(kid, self._clock(), self._timings)
        if step is Step.USE_AND_REFRESH:
            self._refresh_once()
        elif step is Step.FETCH:
            # Shielded: a caller that goes away must not cancel the fetch others wait on.
            await asyncio.shield(self._refresh_once())
        key = self._cache.keys.get(kid)
        if key is None:
            raise AuthenticationFailed(self._cache.refusal(kid))
        return key

    def _refresh_once(self) -> asyncio.Task[None]:
        """The refresh under way, or a new one: never two at a time."""
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.create_task(self._refresh(), name="oidc-jwks-refresh")
        return self._refreshing

    async def _refresh(self) -> None:
        """Fetch the JWKS and record the outcome in the cache; never raises, so a background
        refresh nobody awaits leaves no unretrieved exception behind."""
        try:
            document = await self._fetch_jwks()
            keys = {
                key.key_id: key
                for key in jwt.PyJWKSet.from_dict(dict(document)).keys
                if key.key_id and key.public_key_use in (None, "sig")
            }
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, jwt.PyJWTError) as exc:
            error = str(exc) or type(exc).__name__
            self._cache = self._cache.failed(error, self._clock(), self._timings)
            log.warning(
                "The signing keys of OIDC issuer %s could not be fetched (%s); cached keys "
                "stay in use, next try in %.0f s.",
                self._issuer,
                error,
                self._timings.backoff(self._cache.failures),
            )
            return
        self._cache = self._cache.fetched(keys, self._clock(), self._timings)

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            # Shared by every user's sign-in: a cookie the issuer sets must not follow the next.
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=10), cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    async def _fetch_jwks_over_http(self) -> Mapping[str, Any]:
        session = self._http()
        if self._jwks_url is None:
            self._jwks_url = await self._discover_jwks_url(session)
        async with session.get(self._jwks_url) as response:
            response.raise_for_status()
            document = await response.json(content_type=None)
        if not isinstance(document, dict):
            raise ValueError("the JWKS is not a JSON object")
        return document

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
