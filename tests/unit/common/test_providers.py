"""The provider type and its facts: what a deployment's `provider` may be, and the rules the
control-plane records take from each provider's row."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tollway_common.control import Deployment, ModelAlias, Tenancy
from tollway_common.providers import FACTS, Provider, providers_with

ENTRA = {"type": "entra_managed_identity"}


def test_a_misspelt_provider_is_refused_naming_the_allowed_ones() -> None:
    with pytest.raises(ValidationError) as refused:
        Deployment.model_validate({"name": "d", "provider": "anthropc", "model": "m"})
    [error] = refused.value.errors()
    assert error["loc"] == ("provider",)
    assert error["msg"] == "Input should be 'openai', 'azure_openai', 'anthropic' or 'fake'"


def test_the_provider_is_stored_and_sent_as_its_plain_name() -> None:
    deployment = Deployment.model_validate({"name": "d", "provider": "azure_openai", "model": "m"})
    assert deployment.provider is Provider.AZURE_OPENAI
    assert deployment.model_dump(mode="json")["provider"] == "azure_openai"


@pytest.mark.parametrize("provider", list(Provider))
def test_oauth_without_a_scope_is_allowed_exactly_where_the_provider_knows_its_scope(
    provider: Provider,
) -> None:
    facts = FACTS[provider]
    fields = {"name": "d", "provider": provider.value, "model": "m", "auth": ENTRA}
    if facts.foundry:  # the Entra scope is the default only on Foundry
        fields["foundry_resource"] = "contoso"
    if facts.entra_scope is None:
        with pytest.raises(ValidationError, match=r"auth\.scope is required"):
            Deployment.model_validate(fields)
    else:
        assert Deployment.model_validate(fields).auth is not None


@pytest.mark.parametrize("provider", list(Provider))
def test_per_request_tenancy_is_taken_exactly_by_the_providers_whose_facts_say_so(
    provider: Provider,
) -> None:
    deployment = {"name": "d", "provider": provider.value, "model": "m"}
    record = {"name": "m", "tenancy": Tenancy.PER_REQUEST, "deployments": [deployment]}
    if FACTS[provider].takes_tenancy:
        assert ModelAlias.model_validate(record).tenancy is Tenancy.PER_REQUEST
    else:
        with pytest.raises(ValidationError, match="provider anthropic, no api_base"):
            ModelAlias.model_validate(record)


def test_error_messages_name_the_providers_with_a_fact() -> None:
    assert providers_with(lambda facts: facts.foundry) == "anthropic"
    assert (
        providers_with(lambda facts: facts.entra_scope is not None) == "azure_openai or anthropic"
    )
