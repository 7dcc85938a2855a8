"""Deployment and model records: Foundry resources, upstream OAuth credentials and tenancy are
checked when a record is made, so a bad one never reaches KV."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tollway_common.control import Deployment, ModelAlias, Price, Tenancy

CLAUDE = {"name": "claude", "provider": "anthropic", "model": "claude-sonnet-4-5"}
CLIENT_CREDENTIALS = {
    "type": "entra_client_credentials",
    "tenant_id": "contoso.onmicrosoft.com",
    "client_id": "11111111-2222-3333-4444-555555555555",
    "client_secret": "env:AZURE_CLIENT_SECRET",
}

# A Claude account as Claude Code signs in: a refresh token for Anthropic's OAuth client.
REFRESH = {
    "type": "oauth_refresh_token",
    "token_url": "https://console.anthropic.com/v1/oauth/token",
    "client_id": "9d1c250a-e61b-44d9-88ed-5944d1962f5e",
    "refresh_token": "env:CLAUDE_ACCOUNT_1",
}


def _deployment(**fields: Any) -> Deployment:
    return Deployment.model_validate({**CLAUDE, **fields})


@pytest.mark.proves("foundry_api_key", "anthropic")
def test_a_foundry_resource_is_one_dns_label_kept_in_lower_case() -> None:
    deployment = _deployment(foundry_resource="Contoso-AI-East")
    assert deployment.foundry_resource == "contoso-ai-east"
    assert deployment.is_foundry


@pytest.mark.proves("foundry_api_key", "anthropic")
@pytest.mark.parametrize(
    "resource",
    ["evil.com", "a/b", "user@host", "host:443", "-leading", "trailing-", "a_b", "x" * 64, ""],
)
def test_a_foundry_resource_that_could_change_the_host_is_refused(resource: str) -> None:
    with pytest.raises(ValidationError, match="foundry_resource"):
        _deployment(foundry_resource=resource)


@pytest.mark.parametrize(
    ("api_base", "foundry"),
    [
        ("https://contoso.services.ai.azure.com/anthropic", True),
        ("https://api.anthropic.com", False),
        ("https://evil.example/?x=.services.ai.azure.com", False),
        (None, False),
    ],
)
def test_foundry_is_recognised_by_the_host_of_api_base(api_base: str | None, foundry: bool) -> None:
    assert _deployment(api_base=api_base).is_foundry is foundry


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"provider": "openai", "foundry_resource": "r"}, "for provider anthropic"),
        ({"foundry_resource": "r", "api_base": "https://x"}, "not both"),
        ({"auth": CLIENT_CREDENTIALS, "api_key": "env:K", "foundry_resource": "r"}, "not both"),
        ({"auth": CLIENT_CREDENTIALS}, "auth.scope is required for anthropic outside Azure"),
        ({"auth": {**CLIENT_CREDENTIALS, "client_secret": "s3cr3t"}}, "secret reference"),
        (
            {"auth": {**CLIENT_CREDENTIALS, "authority_host": "http://login.example"}},
            "https URL",
        ),
        (
            {"provider": "openai", "api_base": "https://x/v1", "auth": CLIENT_CREDENTIALS},
            "auth.scope is required",
        ),
        (
            {"credentials": [{"name": "a", "api_key": "env:K", "auth": REFRESH}]},
            "give api_key or auth, not both",
        ),
        (
            {"auth": REFRESH, "credentials": [{"name": "a", "auth": REFRESH}]},
            "give either auth or credentials",
        ),
        (
            {"credentials": [{"name": "a", "auth": CLIENT_CREDENTIALS}]},
            r"credentials\.a\.auth\.scope is required",
        ),
        (
            {
                "provider": "openai",
                "auth": {
                    "type": "oauth_refresh_token",
                    "token_url": "https://idp.example/token",
                    "client_id": "c",
                    "refresh_token": "the-token-itself",
                    "scope": "api",
                },
            },
            "secret reference",
        ),
    ],
)
def test_credentials_that_do_not_fit_are_refused(fields: dict[str, Any], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        _deployment(**fields)


@pytest.mark.proves("foundry_entra", "anthropic")
@pytest.mark.proves("azure_entra", "azure_openai")
def test_entra_credentials_are_taken_by_azure_openai_and_foundry() -> None:
    foundry = _deployment(foundry_resource="contoso", auth=CLIENT_CREDENTIALS)
    azure = Deployment(
        name="az",
        provider="azure_openai",
        model="gpt-4o",
        api_base="https://contoso.openai.azure.com",
        auth={"type": "entra_managed_identity"},
    )
    assert foundry.auth is not None
    assert foundry.auth.type == "entra_client_credentials"
    assert azure.auth is not None
    assert azure.auth.type == "entra_managed_identity"


def test_a_loopback_authority_is_allowed_over_http_for_local_token_services() -> None:
    auth = {**CLIENT_CREDENTIALS, "authority_host": "http://127.0.0.1:8400/"}
    deployment = _deployment(foundry_resource="contoso", auth=auth)
    assert deployment.auth is not None
    assert deployment.auth.authority_host == "http://127.0.0.1:8400"  # type: ignore[union-attr]


@pytest.mark.proves("tenancy", "anthropic")
def test_tenancy_is_off_by_default_and_needs_foundry_deployments() -> None:
    assert ModelAlias(name="c", deployments=[_deployment()]).tenancy is Tenancy.OFF
    tenant_model = ModelAlias(name="c", deployments=[_deployment()], tenancy="per_request")
    assert tenant_model.tenancy is Tenancy.PER_REQUEST
    with pytest.raises(ValidationError, match="needs Foundry deployments"):
        ModelAlias(
            name="c",
            deployments=[Deployment(name="o", provider="openai", model="gpt")],
            tenancy="per_request",
        )
    with pytest.raises(ValidationError, match="needs Foundry deployments"):
        ModelAlias(
            name="c",
            deployments=[_deployment(api_base="https://api.anthropic.com")],
            tenancy="per_request",
        )


def test_direct_anthropic_takes_a_pool_of_oauth_accounts_without_a_scope() -> None:
    second = {**REFRESH, "refresh_token": "env:CLAUDE_ACCOUNT_2"}
    deployment = _deployment(
        credentials=[{"name": "alice", "auth": REFRESH}, {"name": "bob", "auth": second}]
    )
    assert [c.auth for c in deployment.credentials] == [
        deployment.credentials[0].auth,
        deployment.credentials[1].auth,
    ]
    assert deployment.credentials[0].auth is not None
    assert deployment.oauth_scope(deployment.credentials[0].auth) is None
    assert ("credentials.bob.auth.refresh_token", "env:CLAUDE_ACCOUNT_2") in (
        deployment.secret_references()
    )


def test_a_foundry_deployment_defaults_to_the_entra_scope_and_direct_anthropic_to_none() -> None:
    foundry = _deployment(foundry_resource="contoso", auth=CLIENT_CREDENTIALS)
    direct = _deployment(auth=REFRESH)
    assert foundry.auth is not None
    assert direct.auth is not None
    assert foundry.oauth_scope(foundry.auth) == "https://ai.azure.com/.default"
    assert direct.oauth_scope(direct.auth) is None


def test_a_model_or_price_with_an_empty_name_is_refused() -> None:
    """Found by the admin fuzz test: an empty alias encodes to an empty KV key, which NATS
    refused with an error admin answered as a 500."""
    with pytest.raises(ValidationError, match="at least 1 character"):
        ModelAlias.model_validate({"name": "", "deployments": [CLAUDE]})
    with pytest.raises(ValidationError, match="at least 1 character"):
        Price.model_validate({"model": "", "input_per_mtok": "1", "output_per_mtok": "1"})
