"""Upstream OAuth tokens against a fake Entra ID on loopback: each grant, the cache, refresh
before expiry, one fetch for many requests, and failures in the error taxonomy."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, TypeAdapter
from tests.support.fake_token_server import IDENTITY_HEADER, MSI_SECRET, FakeTokenServer

from tollway_common.control import UpstreamAuth
from tollway_common.errors import UpstreamAuthFailed, UpstreamUnavailable
from tollway_common.secret_refs import SecretResolver
from tollway_router.credentials.token_cache import TokenCache
from tollway_router.settings import ManagedIdentitySettings

CLIENT_ID = "11111111-2222-3333-4444-555555555555"
CLIENT_SECRET = "fake-client-secret-value-9f8e"
SCOPE = "https://cognitiveservices.azure.com/.default"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def token_server() -> Iterator[FakeTokenServer]:
    with FakeTokenServer(clients={CLIENT_ID: CLIENT_SECRET}) as server:
        yield server


@pytest.fixture
def secret_file(tmp_path: Path) -> str:
    (tmp_path / "client-secret").write_text(CLIENT_SECRET)
    return f"file:{tmp_path / 'client-secret'}"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def cache(token_server: FakeTokenServer, clock: Clock) -> AsyncIterator[TokenCache]:
    identity = ManagedIdentitySettings(
        imds_url=f"{token_server.url}/metadata/identity/oauth2/token"
    )
    tokens = TokenCache(SecretResolver(), identity, timeout_s=10, clock=clock)
    yield tokens
    await tokens.close()


def _auth(**fields: Any) -> UpstreamAuth:
    return TypeAdapter(UpstreamAuth).validate_python(fields)


def _client_credentials(
    server: FakeTokenServer,
    secret: str,
    tenant_id: str = "contoso.onmicrosoft.com",
    authority_host: str | None = None,
) -> UpstreamAuth:
    return _auth(
        type="entra_client_credentials",
        tenant_id=tenant_id,
        client_id=CLIENT_ID,
        client_secret=secret,
        authority_host=authority_host or server.url,
    )


@pytest.mark.proves("oauth_client_credentials", "azure_openai")
@pytest.mark.proves("oauth_cache", "azure_openai")
async def test_a_service_principal_token_is_fetched_once_and_reused(
    cache: TokenCache, token_server: FakeTokenServer, secret_file: str
) -> None:
    auth = _client_credentials(token_server, secret_file)
    first = await cache.token(auth, SCOPE, "azure-east")
    assert await cache.token(auth, SCOPE, "azure-east") == first
    issued = token_server.issued_for(first)
    assert issued is not None
    assert (issued.scope, issued.client_id, issued.grant) == (
        SCOPE,
        CLIENT_ID,
        "client_credentials",
    )
    [seen] = token_server.requests
    assert seen.path == "/contoso.onmicrosoft.com/oauth2/v2.0/token"


@pytest.mark.proves("oauth_cache", "azure_openai")
async def test_concurrent_requests_share_one_token_fetch(
    cache: TokenCache, token_server: FakeTokenServer, secret_file: str
) -> None:
    auth = _client_credentials(token_server, secret_file)
    token_server.gate.clear()
    waiting = [asyncio.create_task(cache.token(auth, SCOPE, "azure-east")) for _ in range(20)]
    assert await asyncio.to_thread(token_server.received.wait, 10)
    token_server.gate.set()
    tokens = await asyncio.gather(*waiting)
    assert len(set(tokens)) == 1
    assert len(token_server.requests) == 1


@pytest.mark.proves("oauth_cache", "azure_openai")
async def test_a_token_is_refreshed_five_minutes_before_it_expires(
    cache: TokenCache, token_server: FakeTokenServer, secret_file: str, clock: Clock
) -> None:
    auth = _client_credentials(token_server, secret_file)
    first = await cache.token(auth, SCOPE, "azure-east")
    clock.now += token_server.expires_in - 301
    assert await cache.token(auth, SCOPE, "azure-east") == first
    clock.now += 2
    # Due, still valid: this request is not held up; the refresh runs behind it.
    assert await cache.token(auth, SCOPE, "azure-east") == first
    await cache.settled()
    second = await cache.token(auth, SCOPE, "azure-east")
    assert second != first
    assert len(token_server.requests) == 2


async def test_each_scope_and_credential_has_its_own_token(
    cache: TokenCache, token_server: FakeTokenServer, secret_file: str
) -> None:
    auth = _client_credentials(token_server, secret_file)
    azure = await cache.token(auth, SCOPE, "azure-east")
    foundry = await cache.token(auth, "https://ai.azure.com/.default", "foundry")
    assert azure != foundry
    assert len(token_server.requests) == 2


@pytest.mark.proves("oauth_errors", "azure_openai")
async def test_a_refused_secret_is_upstream_auth_failed_without_the_secret(
    cache: TokenCache, token_server: FakeTokenServer, tmp_path: Path
) -> None:
    (tmp_path / "wrong").write_text("not-the-secret-0000")
    auth = _client_credentials(token_server, f"file:{tmp_path / 'wrong'}")
    with pytest.raises(UpstreamAuthFailed) as caught:
        await cache.token(auth, SCOPE, "azure-east")
    error = caught.value
    assert (error.status, error.code) == (502, "upstream_auth_failed")
    assert error.headers() == {"x-should-retry": "false"}
    assert "invalid_client (AADSTS7000215)" in error.message
    assert "azure-east" in error.message
    assert "not-the-secret" not in error.message


@pytest.mark.proves("oauth_errors", "azure_openai")
async def test_a_missing_client_secret_is_upstream_auth_failed(
    cache: TokenCache, token_server: FakeTokenServer, tmp_path: Path
) -> None:
    auth = _client_credentials(token_server, f"file:{tmp_path / 'absent'}")
    with pytest.raises(UpstreamAuthFailed, match="not available"):
        await cache.token(auth, SCOPE, "azure-east")
    assert token_server.requests == []


@pytest.mark.proves("oauth_errors", "azure_openai")
async def test_an_unreachable_token_endpoint_is_retryable_and_a_valid_token_keeps_serving(
    cache: TokenCache, token_server: FakeTokenServer, secret_file: str, clock: Clock
) -> None:
    auth = _client_credentials(token_server, secret_file)
    token_server.fail_with = 503
    with pytest.raises(UpstreamUnavailable) as caught:
        await cache.token(auth, SCOPE, "azure-east")
    assert (caught.value.status, caught.value.retryable) == (502, True)
    token_server.fail_with = None
    current = await cache.token(auth, SCOPE, "azure-east")
    token_server.fail_with = 503
    clock.now += token_server.expires_in - 100  # due for refresh, not yet expired
    assert await cache.token(auth, SCOPE, "azure-east") == current
    clock.now += 200  # expired
    with pytest.raises(UpstreamUnavailable, match="Could not get an access token"):
        await cache.token(auth, SCOPE, "azure-east")


@pytest.mark.proves("oauth_refresh_token", "azure_openai")
async def test_a_rotated_refresh_token_is_used_for_the_next_refresh(
    cache: TokenCache, token_server: FakeTokenServer, clock: Clock, tmp_path: Path
) -> None:
    token_server.refresh_tokens[CLIENT_ID] = "fake-refresh-initial"
    (tmp_path / "refresh").write_text("fake-refresh-initial")
    auth = _auth(
        type="oauth_refresh_token",
        token_url=f"{token_server.url}/generic/token",
        client_id=CLIENT_ID,
        refresh_token=f"file:{tmp_path / 'refresh'}",
        scope="api://upstream/.default offline_access",
    )
    first = await cache.token(auth, "api://upstream/.default offline_access", "gateway")
    clock.now += token_server.expires_in
    second = await cache.token(auth, "api://upstream/.default offline_access", "gateway")
    assert first != second
    sent = [seen.params["refresh_token"] for seen in token_server.requests]
    assert sent[0] == "fake-refresh-initial"
    assert sent[1] != "fake-refresh-initial", "the rotated refresh token was sent"


def _identity(server: FakeTokenServer, kind: str) -> ManagedIdentitySettings:
    if kind == "imds":
        return ManagedIdentitySettings(imds_url=f"{server.url}/metadata/identity/oauth2/token")
    if kind == "identity_endpoint":
        return ManagedIdentitySettings(
            identity_endpoint=f"{server.url}/msi/token",
            identity_header=SecretStr(IDENTITY_HEADER),
        )
    return ManagedIdentitySettings(
        msi_endpoint=f"{server.url}/MSI/token", msi_secret=SecretStr(MSI_SECRET)
    )


@pytest.mark.proves("oauth_managed_identity", "azure_openai")
@pytest.mark.parametrize("kind", ["imds", "identity_endpoint", "msi_endpoint"])
async def test_a_managed_identity_token_comes_from_the_platforms_endpoint(
    token_server: FakeTokenServer, clock: Clock, kind: str
) -> None:
    tokens = TokenCache(SecretResolver(), _identity(token_server, kind), clock=clock)
    try:
        auth = _auth(type="entra_managed_identity", client_id="uami-7")
        token = await tokens.token(auth, SCOPE, "azure-east")
        assert await tokens.token(auth, SCOPE, "azure-east") == token
    finally:
        await tokens.close()
    issued = token_server.issued_for(token)
    assert issued is not None
    assert (issued.scope, issued.client_id, issued.grant) == (SCOPE, "uami-7", kind)
    [seen] = token_server.requests
    assert seen.params["resource"] == "https://cognitiveservices.azure.com"


async def test_a_cookie_one_token_answer_sets_is_not_sent_for_another_tenant(
    cache: TokenCache, token_server: FakeTokenServer, secret_file: str
) -> None:
    token_server.reply_headers = {"set-cookie": "fpc=tenant-a-session; Path=/; HttpOnly"}
    # A host name, not an IP: cookie jars keep no cookies for IP hosts.
    authority = token_server.url.replace("127.0.0.1", "localhost")
    for tenant in ("contoso.onmicrosoft.com", "fabrikam.onmicrosoft.com"):
        auth = _client_credentials(token_server, secret_file, tenant, authority)
        await cache.token(auth, SCOPE, f"azure-{tenant}")
    _, second = token_server.requests
    assert second.path == "/fabrikam.onmicrosoft.com/oauth2/v2.0/token"
    assert "cookie" not in second.headers, second.headers
