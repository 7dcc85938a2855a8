"""Per-request Foundry tenancy at the edge: which key and model pairs make a tenant, and the
clear refusal every other pair gets."""

from __future__ import annotations

import pytest

from tollway_common.control import (
    Deployment,
    Limits,
    ModelAlias,
    Tenancy,
    hash_key,
    kv_key_for_alias,
)
from tollway_common.errors import AuthenticationFailed, InvalidRequest, TollwayError
from tollway_edge.auth import UnknownKey
from tollway_edge.tenancy import TENANT_KEY_ID_PREFIX, authenticate_tenant, offers_tenancy

FOUNDRY = Deployment(name="foundry", provider="anthropic", model="claude-sonnet-4-5")
TENANT_MODEL = ModelAlias(
    name="claude-tenant",
    deployments=[FOUNDRY],
    tenancy=Tenancy.PER_REQUEST,
    tenant_limits=Limits(rpm=60),
)
PLAIN_MODEL = ModelAlias(name="claude", deployments=[FOUNDRY])
MODELS = {kv_key_for_alias(m.name): m for m in (TENANT_MODEL, PLAIN_MODEL)}
KEY = "0123456789abcdef0123456789abcdef"
UNKNOWN = UnknownKey("Incorrect API key provided.")


@pytest.mark.proves("tenancy", "anthropic")
@pytest.mark.parametrize(
    ("key", "model"),
    [(f"contoso-east:{KEY}", "claude-tenant"), (KEY, "contoso-east/claude-tenant")],
    ids=["resource_in_key", "resource_in_model"],
)
def test_both_forms_give_the_same_tenant(key: str, model: str) -> None:
    tenant = authenticate_tenant(key, model, MODELS, UNKNOWN)
    assert tenant.model is TENANT_MODEL
    assert tenant.credential.resource == "contoso-east"
    assert tenant.credential.api_key.get_secret_value() == KEY
    principal = tenant.caller.principal
    assert principal.auth == "tenant"
    assert principal.key_id == TENANT_KEY_ID_PREFIX + hash_key(KEY)[:32]
    assert principal.key_name == "contoso-east"
    assert tenant.caller.levels == ()
    assert tenant.caller.key is not None
    assert tenant.caller.key.limits == Limits(rpm=60), "each tenant gets the model's limits"


@pytest.mark.proves("tenancy", "anthropic")
def test_the_resource_is_read_case_insensitively() -> None:
    tenant = authenticate_tenant(f"Contoso-East:{KEY}", "claude-tenant", MODELS, UNKNOWN)
    assert tenant.credential.resource == "contoso-east"


@pytest.mark.proves("tenancy", "anthropic")
@pytest.mark.proves("tenancy_secret_kept", "anthropic")
def test_the_tenants_key_is_in_no_repr() -> None:
    tenant = authenticate_tenant(f"contoso:{KEY}", "claude-tenant", MODELS, UNKNOWN)
    assert KEY not in repr(tenant)
    assert KEY not in tenant.caller.principal.model_dump_json()


@pytest.mark.proves("tenancy", "anthropic")
@pytest.mark.parametrize(
    ("key", "model", "error", "match"),
    [
        (f"contoso:{KEY}", "claude", UnknownKey, "Incorrect API key"),
        (KEY, "contoso/claude", UnknownKey, "Incorrect API key"),
        (KEY, "contoso/missing", UnknownKey, "Incorrect API key"),
        (KEY, "missing", UnknownKey, "Incorrect API key"),
        (KEY, "claude-tenant", AuthenticationFailed, "'<resource>:<key>'"),
        (f"evil.example:{KEY}", "claude-tenant", AuthenticationFailed, "resource before ':'"),
        (f"a/b:{KEY}", "claude-tenant", AuthenticationFailed, "resource before ':'"),
        (KEY, "evil.example/claude-tenant", InvalidRequest, "resource before '/'"),
        (KEY, "host:443/claude-tenant", InvalidRequest, "resource before '/'"),
        (f"contoso:{KEY}", "contoso/claude-tenant", AuthenticationFailed, "not both"),
        ("contoso:short", "claude-tenant", AuthenticationFailed, "8 to 512"),
        ("contoso:has space inside", "claude-tenant", AuthenticationFailed, "without spaces"),
    ],
)
def test_every_other_pair_is_refused_with_a_clear_error(
    key: str, model: str, error: type[TollwayError], match: str
) -> None:
    with pytest.raises(error, match=match) as caught:
        authenticate_tenant(key, model, MODELS, UNKNOWN)
    assert caught.value.status in (400, 401)
    assert KEY not in caught.value.message


def test_tenancy_is_offered_only_when_a_model_turns_it_on() -> None:
    assert offers_tenancy(MODELS)
    assert not offers_tenancy({kv_key_for_alias("claude"): PLAIN_MODEL})


OWN_DEPLOYMENTS = ModelAlias(
    name="claude-own",
    deployments=[FOUNDRY],
    tenancy=Tenancy.PER_REQUEST,
    tenant_deployments=["claude-*", "team-?-sonnet"],
    tenant_deployments_deny=["claude-opus-*"],
)
WITH_OWN = {**MODELS, kv_key_for_alias(OWN_DEPLOYMENTS.name): OWN_DEPLOYMENTS}


@pytest.mark.proves("tenancy", "anthropic")
@pytest.mark.parametrize(
    ("key", "model"),
    [(f"contoso-east:{KEY}", "claude-haiku-4-5"), (KEY, "contoso-east/claude-haiku-4-5")],
    ids=["resource_in_key", "resource_in_model"],
)
def test_a_tenant_may_name_its_own_deployment_the_entry_allows(key: str, model: str) -> None:
    tenant = authenticate_tenant(key, model, WITH_OWN, UNKNOWN)
    assert tenant.model is OWN_DEPLOYMENTS
    assert tenant.credential.resource == "contoso-east"
    assert tenant.credential.deployment == "claude-haiku-4-5"
    assert tenant.caller.key is not None


def test_an_alias_wins_over_a_deployment_name_and_carries_no_deployment() -> None:
    tenant = authenticate_tenant(f"contoso-east:{KEY}", "claude-tenant", WITH_OWN, UNKNOWN)
    assert tenant.model is TENANT_MODEL
    assert tenant.credential.deployment is None


@pytest.mark.parametrize(
    "model",
    ["claude-opus-4-5", "gpt-4o", "contoso-east/claude-opus-4-5", "claude-x\n", "team-ab-sonnet"],
)
def test_deployment_names_the_entry_does_not_allow_are_unknown(model: str) -> None:
    with pytest.raises(UnknownKey):
        authenticate_tenant(
            f"contoso-east:{KEY}" if "/" not in model else KEY, model, WITH_OWN, UNKNOWN
        )


def test_a_deployment_name_is_never_a_tenant_without_the_entry_opting_in() -> None:
    with pytest.raises(UnknownKey):
        authenticate_tenant(f"contoso-east:{KEY}", "claude-haiku-4-5", MODELS, UNKNOWN)


def test_tenant_deployments_need_per_request_tenancy() -> None:
    with pytest.raises(ValueError, match="tenant_deployments needs tenancy per_request"):
        ModelAlias(name="plain", deployments=[FOUNDRY], tenant_deployments=["claude-*"])
