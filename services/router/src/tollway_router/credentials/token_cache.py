"""Upstream OAuth access tokens: fetched from the credential's token endpoint, kept per
credential and scope, refreshed before they expire, and fetched once however many requests
need a token at the same moment (single flight).

A refusal by the token endpoint is `UpstreamAuthFailed` (the gateway's credential is wrong:
502, never 401, no client retry); an endpoint that cannot be reached is `UpstreamUnavailable`
(502, retryable), and a cached token that is still valid keeps serving through it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import aiohttp

from tollway_common.control import AzureIdentity, UpstreamAuth
from tollway_common.errors import UpstreamAuthFailed, UpstreamUnavailable
from tollway_common.secret_refs import SecretNotFound, SecretResolver
from tollway_router.credentials.azure_identity import AzureCredentials
from tollway_router.credentials.token_grants import (
    Token,
    TokenRefused,
    TokenRequest,
    TokenUnavailable,
    parse_token_response,
    token_request,
)
from tollway_router.settings import ManagedIdentitySettings

log = logging.getLogger(__name__)

_Key = tuple[UpstreamAuth, str]


class TokenCache:
    def __init__(
        self,
        secrets: SecretResolver,
        identity: ManagedIdentitySettings,
        timeout_s: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secrets = secrets
        self._identity = identity
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._clock = clock
        self._tokens: dict[_Key, Token] = {}
        self._refresh_tokens: dict[_Key, str] = {}
        self._inflight: dict[_Key, asyncio.Task[Token]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._azure = AzureCredentials()

    async def token(self, auth: UpstreamAuth, scope: str, deployment: str) -> str:
        """A valid access token for `scope`; `deployment` only names the caller in errors."""
        key = (auth, scope)
        cached = self._tokens.get(key)
        if cached is not None and self._clock() < cached.refresh_at:
            return cached.value
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.create_task(self._fetch(key, deployment))
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        try:
            # Shielded: a request that gives up does not cancel the fetch the others await.
            return (await asyncio.shield(task)).value
        except UpstreamUnavailable:
            if cached is not None and self._clock() < cached.expires_at:
                log.warning("token refresh failed; using the current token until it expires")
                return cached.value
            raise

    def _finished(self, key: _Key, task: asyncio.Task[Token]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved here, so a fetch nobody awaits any more is not logged

    async def _fetch(self, key: _Key, deployment: str) -> Token:
        auth, scope = key
        if isinstance(auth, AzureIdentity):
            token = await self._from_azure_identity(auth, scope, deployment)
            self._tokens[key] = token
            return token
        try:
            request = token_request(
                auth, scope, self._secrets.resolve, self._identity, self._refresh_tokens.get(key)
            )
        except SecretNotFound as exc:
            raise UpstreamAuthFailed(
                f"The OAuth credential of deployment '{deployment}' is not available: {exc}."
            ) from exc
        host = urlsplit(request.url).hostname or request.url
        try:
            status, body = await self._send(request)
            token = parse_token_response(status, body, self._clock())
        except TokenRefused as exc:
            raise UpstreamAuthFailed(
                f"The token endpoint {host} refused the credential of deployment "
                f"'{deployment}': {exc}. This is a gateway configuration problem, not your key."
            ) from exc
        except (TokenUnavailable, aiohttp.ClientError, TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
            raise UpstreamUnavailable(
                f"Could not get an access token for deployment '{deployment}' from {host}: "
                f"{reason}."
            ) from exc
        self._tokens[key] = token
        if token.refresh_token is not None:
            self._refresh_tokens[key] = token.refresh_token
        return token

    async def _from_azure_identity(self, auth: AzureIdentity, scope: str, deployment: str) -> Token:
        try:
            return await self._azure.token(auth, scope, self._clock())
        except TokenRefused as exc:
            raise UpstreamAuthFailed(
                f"azure-identity ({auth.credential}) could not sign in for deployment "
                f"'{deployment}': {exc}. This is a gateway configuration problem, not your key."
            ) from exc
        except TokenUnavailable as exc:
            raise UpstreamUnavailable(
                f"Could not get an access token for deployment '{deployment}' through "
                f"azure-identity ({auth.credential}): {exc}."
            ) from exc

    async def _send(self, request: TokenRequest) -> tuple[int, bytes]:
        if self._session is None:
            # One session fetches every tenant's tokens: it keeps no cookie a token endpoint sets.
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, cookie_jar=aiohttp.DummyCookieJar()
            )
        async with self._session.request(
            request.method,
            request.url,
            headers=dict(request.headers),
            data=dict(request.form) if request.form is not None else None,
            params=dict(request.query) or None,
        ) as response:
            return response.status, await response.read()

    async def close(self) -> None:
        for task in list(self._inflight.values()):
            task.cancel()
        await self._azure.close()
        if self._session is not None:
            await self._session.close()
