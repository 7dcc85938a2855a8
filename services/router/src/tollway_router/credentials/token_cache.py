"""Upstream OAuth access tokens: fetched from the credential's token endpoint, kept per
credential and scope, refreshed before they expire (behind the request while the current one
is still valid), and fetched once however many requests need a token at the same moment
(single flight). Refresh-token accounts go through `token_store.SharedTokens` when the router
has an encryption key: one refresh across all routers, the rotated token kept in NATS KV.

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

from tollway_common.control import (
    AzureIdentity,
    EntraClientCredentials,
    OAuthClientCredentials,
    OAuthRefreshToken,
    UpstreamAuth,
)
from tollway_common.errors import UpstreamAuthFailed, UpstreamUnavailable
from tollway_common.oauth_tokens import account_key
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
from tollway_router.credentials.token_store import SharedTokens
from tollway_router.settings import ManagedIdentitySettings

log = logging.getLogger(__name__)

_Key = tuple[UpstreamAuth, str]
_CLOSE_GRACE_S = 5.0


class TokenCache:
    def __init__(
        self,
        secrets: SecretResolver,
        identity: ManagedIdentitySettings,
        timeout_s: float = 30.0,
        clock: Callable[[], float] = time.time,
        shared: SharedTokens | None = None,
    ) -> None:
        self._secrets = secrets
        self._shared = shared
        self._identity = identity
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._clock = clock
        self._tokens: dict[_Key, Token] = {}
        self._refresh_tokens: dict[_Key, str] = {}
        self._inflight: dict[_Key, asyncio.Task[Token]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._azure = AzureCredentials()

    async def token(
        self, auth: UpstreamAuth, scope: str, deployment: str, credential: str = ""
    ) -> str:
        """A valid access token for `scope`; `deployment` and `credential` only name the
        caller in errors and token health."""
        key = (auth, scope)
        cached = self._tokens.get(key)
        now = self._clock()
        if cached is not None and now < cached.refresh_at:
            return cached.value
        task = self._start(key, (deployment, credential))
        if cached is not None and now < cached.expires_at:
            return cached.value  # due for refresh, still valid: the refresh runs behind it
        try:
            # Shielded: a request that gives up does not cancel the fetch the others await.
            return (await asyncio.shield(task)).value
        except UpstreamUnavailable:
            if cached is not None and self._clock() < cached.expires_at:
                log.warning("token refresh failed; using the current token until it expires")
                return cached.value
            raise

    async def keep_fresh(
        self, auth: UpstreamAuth, scope: str, deployment: str, credential: str = ""
    ) -> None:
        """Refresh now if the token is due (or missing), and wait for it; raise as `token`."""
        key = (auth, scope)
        cached = self._tokens.get(key)
        if cached is not None and self._clock() < cached.refresh_at:
            return
        task = self._start(key, (deployment, credential))
        await asyncio.shield(task)

    def expires_at(self, auth: UpstreamAuth, scope: str) -> float | None:
        """When this router's token for `auth` expires (None: it holds none)."""
        cached = self._tokens.get((auth, scope))
        return cached.expires_at if cached is not None else None

    async def settled(self) -> None:
        """Wait for the refreshes running now (tests, and a clean shutdown)."""
        await asyncio.gather(*self._inflight.values(), return_exceptions=True)

    def _start(self, key: _Key, label: tuple[str, str]) -> asyncio.Task[Token]:
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.create_task(self._fetch(key, label))
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        return task

    def _finished(self, key: _Key, task: asyncio.Task[Token]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved here, so a fetch nobody awaits any more is not logged

    async def _fetch(self, key: _Key, label: tuple[str, str]) -> Token:
        auth, scope = key
        deployment = label[0]
        if isinstance(auth, AzureIdentity):
            token = await self._from_azure_identity(auth, scope, deployment)
            self._tokens[key] = token
            return token
        host = ""
        try:
            host = _host(auth)
            if isinstance(auth, OAuthRefreshToken) and self._shared is not None:
                token = await self._shared.obtain(
                    account_key(auth, scope or None),
                    self._secrets.resolve(auth.refresh_token),
                    lambda refresh_token: self._grant(auth, scope, refresh_token),
                    label,
                )
            else:
                token = await self._grant(auth, scope, self._refresh_tokens.get(key))
        except SecretNotFound as exc:
            raise UpstreamAuthFailed(
                f"The OAuth credential of deployment '{deployment}' is not available: {exc}."
            ) from exc
        except TokenRefused as exc:
            raise UpstreamAuthFailed(
                f"The token endpoint {host} refused the credential of deployment "
                f"'{deployment}': {exc}. This is a gateway configuration problem, not your key."
            ) from exc
        except TokenUnavailable as exc:
            raise UpstreamUnavailable(
                f"Could not get an access token for deployment '{deployment}' from {host}: {exc}."
            ) from exc
        self._tokens[key] = token
        if token.refresh_token is not None:
            self._refresh_tokens[key] = token.refresh_token
        return token

    async def _grant(self, auth: UpstreamAuth, scope: str, refresh_token: str | None) -> Token:
        """One token request; TokenRefused or TokenUnavailable when it gives no token."""
        request = token_request(auth, scope, self._secrets.resolve, self._identity, refresh_token)
        try:
            status, body = await self._send(request)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TokenUnavailable(str(exc) or type(exc).__name__) from exc
        return parse_token_response(status, body, self._clock())

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

    async def finish_refreshes(self) -> None:
        """Give running refreshes a moment to finish: one cut off after the endpoint rotated
        its refresh token, but before the new one was written, would lose it."""
        running = list(self._inflight.values())
        if running:
            await asyncio.wait(running, timeout=_CLOSE_GRACE_S)

    async def close(self) -> None:
        await self.finish_refreshes()
        if self._shared is not None:
            await self._shared.stop()
        for task in list(self._inflight.values()):
            task.cancel()
        await self._azure.close()
        if self._session is not None:
            await self._session.close()


def _host(auth: UpstreamAuth) -> str:
    """The token endpoint's host, for error messages (never its path or query)."""
    if isinstance(auth, OAuthRefreshToken | OAuthClientCredentials):
        url = auth.token_url
    elif isinstance(auth, EntraClientCredentials):
        url = auth.authority_host
    else:
        return "the managed identity endpoint"
    return urlsplit(url).hostname or url
