"""Which credential an upstream call carries, and where a Foundry call goes."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pydantic import SecretStr

from tollway_common.contract import TenantCredential
from tollway_common.control import Deployment, ModelAlias, Tenancy
from tollway_common.errors import InvalidRequest, UpstreamAuthFailed
from tollway_common.secret_refs import SecretResolver
from tollway_router.credentials.resolve import Credential, Credentials, for_tenant
from tollway_router.credentials.token_cache import TokenCache
from tollway_router.settings import FOUNDRY_BASE_URL, ManagedIdentitySettings
from tollway_router.upstream.anthropic_sdk import foundry_base_url

FOUNDRY = Deployment(name="foundry", provider="anthropic", model="claude-sonnet-4-5")
TENANT_MODEL = ModelAlias(name="t", deployments=[FOUNDRY], tenancy=Tenancy.PER_REQUEST)
PLAIN_MODEL = ModelAlias(name="p", deployments=[FOUNDRY])
TENANT = TenantCredential(resource="contoso", api_key=SecretStr("tenant-key-0123456789"))


@pytest.fixture
def credentials() -> Credentials:
    secrets = SecretResolver()
    return Credentials(secrets, TokenCache(secrets, ManagedIdentitySettings()))


@pytest.mark.proves("foundry_api_key", "anthropic")
def test_a_foundry_resource_fills_only_the_first_label_of_the_host() -> None:
    url = foundry_base_url(FOUNDRY_BASE_URL, "contoso-east")
    assert url == "https://contoso-east.services.ai.azure.com/anthropic/"
    assert urlsplit(url).hostname == "contoso-east.services.ai.azure.com"


@pytest.mark.proves("tenancy", "anthropic")
@pytest.mark.parametrize(
    "resource", ["evil.example", "x@evil.example", "a/b", "a:1", "a#", "a?b", "", "A" * 64]
)
def test_a_name_that_could_move_the_host_never_reaches_the_url(resource: str) -> None:
    with pytest.raises(InvalidRequest, match="not a Foundry resource name"):
        foundry_base_url(FOUNDRY_BASE_URL, resource)


@pytest.mark.proves("tenancy", "anthropic")
async def test_a_tenant_credential_names_the_resource_and_key(credentials: Credentials) -> None:
    credential = await credentials.resolve(TENANT_MODEL, FOUNDRY, TENANT, None)
    assert credential == Credential("api_key", "tenant-key-0123456789", "contoso")
    assert "tenant-key" not in repr(credential)


@pytest.mark.proves("tenancy", "anthropic")
async def test_the_router_refuses_a_tenant_for_a_model_without_tenancy(
    credentials: Credentials,
) -> None:
    with pytest.raises(InvalidRequest, match="does not take per-request"):
        await credentials.resolve(PLAIN_MODEL, FOUNDRY, TENANT, None)
    bad = TenantCredential(resource="evil.example", api_key=SecretStr("k" * 20))
    with pytest.raises(InvalidRequest, match="one DNS label"):
        await credentials.resolve(TENANT_MODEL, FOUNDRY, bad, None)


async def test_a_deployment_key_is_read_from_its_secret_reference(
    credentials: Credentials, tmp_path: Path
) -> None:
    (tmp_path / "key").write_text("sk-upstream\n")
    deployment = FOUNDRY.model_copy(update={"api_key": f"file:{tmp_path / 'key'}"})
    assert await credentials.resolve(
        PLAIN_MODEL, deployment, None, deployment.api_key
    ) == Credential("api_key", "sk-upstream")
    assert await credentials.resolve(PLAIN_MODEL, FOUNDRY, None, FOUNDRY.api_key) is None


async def test_a_missing_secret_is_the_gateways_problem_not_the_clients(
    credentials: Credentials, tmp_path: Path
) -> None:
    deployment = FOUNDRY.model_copy(update={"api_key": f"file:{tmp_path / 'absent'}"})
    with pytest.raises(UpstreamAuthFailed) as caught:
        await credentials.resolve(PLAIN_MODEL, deployment, None, deployment.api_key)
    assert caught.value.status == 502


@pytest.mark.proves("azure_entra", "azure_openai")
def test_a_bearer_token_goes_in_authorization_and_a_key_in_the_providers_header() -> None:
    def api_key(value: str) -> tuple[str, str]:
        return ("api-key", value)

    assert Credential("bearer", "tok").header(api_key) == ("authorization", "Bearer tok")
    assert Credential("api_key", "k").header(api_key) == ("api-key", "k")


def test_a_tenants_own_deployment_becomes_the_upstream_model_only_where_allowed() -> None:
    own = TENANT_MODEL.model_copy(update={"tenant_deployments": ["claude-haiku-*"]})
    tenant = TENANT.model_copy(update={"deployment": "claude-haiku-4-5"})
    assert for_tenant(own, FOUNDRY, tenant).model == "claude-haiku-4-5"
    assert for_tenant(own, FOUNDRY, TENANT) is FOUNDRY
    assert for_tenant(own, FOUNDRY, None) is FOUNDRY
    with pytest.raises(InvalidRequest, match="does not allow the deployment"):
        for_tenant(TENANT_MODEL, FOUNDRY, tenant)
    with pytest.raises(InvalidRequest):
        for_tenant(own, FOUNDRY, tenant.model_copy(update={"deployment": "claude-haiku\n"}))
