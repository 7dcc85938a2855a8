"""What the router sends each kind of token endpoint, and how it reads the answers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from pydantic import SecretStr, TypeAdapter

from tollway_common.control import UpstreamAuth
from tollway_router.credentials.token_grants import (
    DEFAULT_LIFETIME_S,
    TokenRefused,
    TokenRequest,
    TokenUnavailable,
    parse_token_response,
    token_request,
)
from tollway_router.settings import ManagedIdentitySettings

SECRETS = {"env:CLIENT_SECRET": "client-secret-value", "env:REFRESH": "refresh-token-value"}
NOW = 1_750_000_000.0
SCOPE = "https://cognitiveservices.azure.com/.default"
IMDS = ManagedIdentitySettings(imds_url="http://169.254.169.254/metadata/identity/oauth2/token")


def _auth(**fields: Any) -> UpstreamAuth:
    return TypeAdapter(UpstreamAuth).validate_python(fields)


def _request(auth: UpstreamAuth, identity: ManagedIdentitySettings = IMDS, **kw: Any) -> Any:
    return token_request(auth, SCOPE, SECRETS.__getitem__, identity, **kw)


@pytest.mark.proves("oauth_client_credentials", "azure_openai")
def test_entra_client_credentials_post_to_the_tenants_v2_endpoint() -> None:
    auth = _auth(
        type="entra_client_credentials",
        tenant_id="contoso.onmicrosoft.com",
        client_id="app-1",
        client_secret="env:CLIENT_SECRET",
        authority_host="https://login.microsoftonline.us",
    )
    assert _request(auth) == TokenRequest(
        "POST",
        "https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/token",
        {"accept": "application/json"},
        {
            "grant_type": "client_credentials",
            "client_id": "app-1",
            "client_secret": "client-secret-value",
            "scope": SCOPE,
        },
    )


@pytest.mark.proves("oauth_refresh_token", "azure_openai")
def test_refresh_token_grant_sends_the_newest_refresh_token() -> None:
    auth = _auth(
        type="oauth_refresh_token",
        token_url="https://idp.example/token",
        client_id="app-1",
        refresh_token="env:REFRESH",
    )
    first = _request(auth)
    assert first.form == {
        "grant_type": "refresh_token",
        "refresh_token": "refresh-token-value",
        "client_id": "app-1",
        "scope": SCOPE,
    }
    assert _request(auth, refresh_token="rotated").form["refresh_token"] == "rotated"


@pytest.mark.proves("oauth_managed_identity", "azure_openai")
@pytest.mark.parametrize(
    ("identity", "expected"),
    [
        (
            IMDS,
            TokenRequest(
                "GET",
                "http://169.254.169.254/metadata/identity/oauth2/token",
                {"Metadata": "true"},
                query={
                    "api-version": "2018-02-01",
                    "resource": "https://cognitiveservices.azure.com",
                    "client_id": "uami-1",
                },
            ),
        ),
        (
            ManagedIdentitySettings(
                identity_endpoint="http://127.0.0.1:41000/msi/token",
                identity_header=SecretStr("header-secret"),
            ),
            TokenRequest(
                "GET",
                "http://127.0.0.1:41000/msi/token",
                {"X-IDENTITY-HEADER": "header-secret"},
                query={
                    "api-version": "2019-08-01",
                    "resource": "https://cognitiveservices.azure.com",
                    "client_id": "uami-1",
                },
            ),
        ),
        (
            ManagedIdentitySettings(
                msi_endpoint="http://127.0.0.1:41001/MSI/token",
                msi_secret=SecretStr("msi-secret"),
            ),
            TokenRequest(
                "GET",
                "http://127.0.0.1:41001/MSI/token",
                {"Secret": "msi-secret"},
                query={
                    "api-version": "2017-09-01",
                    "resource": "https://cognitiveservices.azure.com",
                    "clientid": "uami-1",
                },
            ),
        ),
    ],
    ids=["imds", "identity_endpoint", "msi_endpoint"],
)
def test_managed_identity_asks_the_platforms_endpoint_for_the_resource(
    identity: ManagedIdentitySettings, expected: TokenRequest
) -> None:
    auth = _auth(type="entra_managed_identity", client_id="uami-1")
    assert _request(auth, identity) == expected


def _answer(**body: Any) -> bytes:
    return orjson.dumps(body)


@pytest.mark.proves("oauth_cache", "azure_openai")
@pytest.mark.parametrize(
    ("body", "expires_at"),
    [
        ({"access_token": "t", "expires_in": 3599}, NOW + 3599),
        ({"access_token": "t", "expires_in": "3599", "expires_on": "1"}, NOW + 3599),
        ({"access_token": "t", "expires_on": str(int(NOW) + 600)}, NOW + 600),
        (
            {"access_token": "t", "expires_on": "06/15/2025 03:00:00 PM +00:00"},
            datetime(2025, 6, 15, 15, tzinfo=UTC).timestamp(),
        ),
        ({"access_token": "t"}, NOW + DEFAULT_LIFETIME_S),
    ],
)
def test_expiry_is_read_from_every_form_the_endpoints_use(
    body: dict[str, Any], expires_at: float
) -> None:
    assert parse_token_response(200, _answer(**body), NOW).expires_at == expires_at


@pytest.mark.proves("oauth_cache", "azure_openai")
def test_refresh_is_due_five_minutes_early_or_halfway_for_short_tokens() -> None:
    hour = parse_token_response(200, _answer(access_token="t", expires_in=3600), NOW)
    assert hour.refresh_at == NOW + 3300
    short = parse_token_response(200, _answer(access_token="t", expires_in=120), NOW)
    assert short.refresh_at == NOW + 60
    hinted = parse_token_response(
        200, _answer(access_token="t", expires_in=3600, refresh_in=1800), NOW
    )
    assert hinted.refresh_at == NOW + 1800


@pytest.mark.proves("oauth_refresh_token", "azure_openai")
def test_a_rotated_refresh_token_is_kept() -> None:
    token = parse_token_response(
        200, _answer(access_token="t", expires_in=60, refresh_token="next"), NOW
    )
    assert token.refresh_token == "next"
    assert "next" not in repr(token)
    assert "'t'" not in repr(token)


@pytest.mark.proves("oauth_errors", "azure_openai")
def test_a_refusal_names_the_oauth_error_and_aadsts_code_but_not_the_description() -> None:
    body = _answer(
        error="invalid_client",
        error_description="AADSTS7000215: Invalid client secret provided. Trace ID: 1234",
    )
    with pytest.raises(TokenRefused) as caught:
        parse_token_response(401, body, NOW)
    assert str(caught.value) == "invalid_client (AADSTS7000215)"


@pytest.mark.proves("oauth_errors", "azure_openai")
@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, b"{}"),
        (503, b"<html>down</html>"),
        (429, b"{}"),
        (200, b"<html>captive portal</html>"),
        (200, b'{"token_type": "Bearer"}'),
    ],
)
def test_an_endpoint_that_gives_no_token_is_unavailable_not_a_refusal(
    status: int, body: bytes
) -> None:
    with pytest.raises(TokenUnavailable):
        parse_token_response(status, body, NOW)
