"""`auth: {type: azure_identity}`: each `credential` is azure-identity's own class, configured
from the deployment and the environment; a credential that cannot sign in here is the
gateway's configuration problem (502 UpstreamAuthFailed), named with its kind. The token path
itself runs against a fake Entra authority in tests/integration/test_azure_openai_flow.py."""

from __future__ import annotations

import pytest
from azure.identity.aio import (
    AzureCliCredential,
    DefaultAzureCredential,
    ManagedIdentityCredential,
    WorkloadIdentityCredential,
)
from pydantic import TypeAdapter, ValidationError

from tollway_common.control import AzureIdentity, UpstreamAuth
from tollway_common.errors import UpstreamAuthFailed
from tollway_common.secret_refs import SecretResolver
from tollway_router.credentials.azure_identity import new_credential
from tollway_router.credentials.token_cache import TokenCache
from tollway_router.settings import ManagedIdentitySettings

SCOPE = "https://cognitiveservices.azure.com/.default"
WORKLOAD_ENV = ("AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_ID", "AZURE_TENANT_ID")


def _auth(**fields: object) -> AzureIdentity:
    auth = TypeAdapter(UpstreamAuth).validate_python({"type": "azure_identity", **fields})
    assert isinstance(auth, AzureIdentity)
    return auth


@pytest.mark.parametrize(
    ("credential", "kind"),
    [
        ("default", DefaultAzureCredential),
        ("managed", ManagedIdentityCredential),
        ("cli", AzureCliCredential),
    ],
)
async def test_each_kind_is_azure_identitys_own_credential(
    credential: str, kind: type[object]
) -> None:
    made = new_credential(_auth(credential=credential))
    try:
        assert isinstance(made, kind)
    finally:
        await made.close()


async def test_workload_identity_takes_the_deployments_client_and_tenant(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", "/var/run/secrets/azure/tokens/token")
    for name in WORKLOAD_ENV[1:]:
        monkeypatch.delenv(name, raising=False)
    made = new_credential(_auth(credential="workload", client_id="app-1", tenant_id="contoso"))
    try:
        assert isinstance(made, WorkloadIdentityCredential)
    finally:
        await made.close()


def test_the_default_kind_is_default_and_ids_are_checked() -> None:
    assert _auth().credential == "default"
    with pytest.raises(ValidationError):
        _auth(credential="browser")
    with pytest.raises(ValidationError):
        _auth(tenant_id="not a tenant/../")


async def test_workload_identity_without_its_environment_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in WORKLOAD_ENV:
        monkeypatch.delenv(name, raising=False)
    cache = TokenCache(SecretResolver(), ManagedIdentitySettings())
    try:
        with pytest.raises(UpstreamAuthFailed, match=r"azure-identity \(workload\).*'azure-east'"):
            await cache.token(_auth(credential="workload"), SCOPE, "azure-east")
    finally:
        await cache.close()
