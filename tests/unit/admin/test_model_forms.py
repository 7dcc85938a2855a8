from __future__ import annotations

from decimal import Decimal

import pytest

from tollway_admin.ui.form_values import FieldErrors
from tollway_admin.ui.model_forms import (
    alias_of,
    deployment_from,
    model_from,
    price_from,
    price_values,
    with_deployment,
)
from tollway_common.control import (
    DeclaredCapabilities,
    Deployment,
    ModelAlias,
    Price,
    RoutingStrategy,
)
from tollway_common.providers import Provider

NEW_MODEL = {
    "name": "team-gpt",
    "strategy": "priority",
    "fallbacks": "gpt-4o, tollway-demo",
    "d.name": "east",
    "d.provider": "openai",
    "d.model": "gpt-4o-mini",
    "d.api_base": "https://api.openai.com/v1",
    "d.api_key": "env:OPENAI_API_KEY",
    "d.context_window": "128000",
    "d.weight": "2",
    "d.priority": "0",
    "d.vision": "yes",
    "d.tools": "",
    "d.thinking": "no",
    "d.structured_outputs": "",
    "csrf": "ignored",
}


def _errors(values: dict[str, str]) -> dict[str, str]:
    with pytest.raises(FieldErrors) as caught:
        model_from(values)
    return caught.value.errors


def test_a_new_model_is_read_with_its_first_deployment() -> None:
    assert model_from(NEW_MODEL) == ModelAlias(
        name="team-gpt",
        strategy=RoutingStrategy.PRIORITY,
        fallbacks=["gpt-4o", "tollway-demo"],
        deployments=[
            Deployment(
                name="east",
                provider=Provider.OPENAI,
                model="gpt-4o-mini",
                api_base="https://api.openai.com/v1",
                api_key="env:OPENAI_API_KEY",
                context_window=128000,
                weight=2,
                priority=0,
                capabilities=DeclaredCapabilities(vision=True, thinking=False),
            )
        ],
    )


def test_a_raw_key_is_refused_on_its_field_and_never_repeated() -> None:
    errors = _errors({**NEW_MODEL, "d.api_key": "sk-live-0123456789"})
    assert set(errors) == {"d.api_key"}
    assert "secret reference" in errors["d.api_key"]
    assert "sk-live" not in errors["d.api_key"]


def test_every_bad_field_is_reported_at_once_next_to_itself() -> None:
    errors = _errors(
        {
            **NEW_MODEL,
            "name": "two words",
            "d.weight": "lots",
            "d.context_window": "-5",
            "d.vision": "maybe",
        }
    )
    assert set(errors) == {"name", "d.vision"}  # field checks first, then the record's
    errors = _errors({**NEW_MODEL, "d.weight": "lots", "d.context_window": "-5"})
    assert set(errors) == {"d.weight", "d.context_window"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("d.provider", "openia"),
        ("d.api_base", "ftp://example.com"),
        ("strategy", "fastest"),
        ("d.name", ""),
        ("d.model", ""),
    ],
)
def test_a_bad_value_names_its_field(field: str, value: str) -> None:
    assert field in _errors({**NEW_MODEL, field: value})


def test_oversized_fields_and_lists_are_refused() -> None:
    assert "d.model" in _errors({**NEW_MODEL, "d.model": "x" * 5000})
    assert "fallbacks" in _errors({**NEW_MODEL, "fallbacks": ",".join(["a"] * 300)})


def test_a_rule_across_fields_goes_to_the_form_as_a_whole() -> None:
    errors = _errors({**NEW_MODEL, "d.provider": "fake", "d.foundry_resource": "res"})
    assert list(errors) == [""]
    assert "foundry_resource" in errors[""]


def test_a_deployment_is_added_and_a_taken_name_refused() -> None:
    model = model_from(NEW_MODEL)
    west = deployment_from({**NEW_MODEL, "d.name": "west"})
    assert [d.name for d in with_deployment(model, west).deployments] == ["east", "west"]
    with pytest.raises(FieldErrors) as caught:
        with_deployment(model, deployment_from(NEW_MODEL))
    assert set(caught.value.errors) == {"d.name"}


def test_an_alias_copies_the_upstreams_under_deployment_names_of_its_own() -> None:
    source = model_from(NEW_MODEL).model_copy(update={"created": 5, "managed_by": "config"})
    alias = alias_of(source, {"alias": "cheap"})
    assert alias.name == "cheap"
    assert [d.name for d in alias.deployments] == ["east-cheap"]
    assert alias.deployments[0].model_copy(update={"name": "east"}) == source.deployments[0]
    assert (alias.strategy, alias.fallbacks) == (source.strategy, source.fallbacks)
    assert (alias.created, alias.managed_by) == (0, "")
    with pytest.raises(FieldErrors) as caught:
        alias_of(source, {"alias": ""})
    assert set(caught.value.errors) == {"alias"}


def test_a_price_takes_every_unit() -> None:
    values = {
        "input_per_mtok": "2.5",
        "output_per_mtok": "10",
        "per_image": "0.04",
        "per_audio_minute": "0.006",
        "per_mchar": "15",
        "batch_multiplier": "0.5",
        "currency": "EUR",
    }
    price = price_from("m", values, None)
    assert price == Price(
        model="m",
        input_per_mtok=Decimal("2.5"),
        output_per_mtok=Decimal("10"),
        per_image=Decimal("0.04"),
        per_audio_minute=Decimal("0.006"),
        per_mchar=Decimal("15"),
        batch_multiplier=Decimal("0.5"),
        currency="EUR",
    )
    assert price_values(price) == values


def test_no_price_without_an_input_or_output_price() -> None:
    assert price_from("m", {"per_image": "0.04", "currency": "USD"}, None) is None


def test_an_unchanged_price_is_the_stored_one_and_a_changed_one_gets_a_new_version() -> None:
    stored = Price(
        model="m",
        input_per_mtok=Decimal(1),
        output_per_mtok=Decimal(2),
        version="2026-01-01T00:00:00Z",
        managed_by="config",
    )
    assert price_from("m", price_values(stored), stored) is stored
    changed = price_from("m", {**price_values(stored), "batch_multiplier": "0.5"}, stored)
    assert changed is not None
    assert (changed.version, changed.managed_by) == ("", "config")
    assert changed.batch_multiplier == Decimal("0.5")


def test_a_negative_price_names_its_field() -> None:
    with pytest.raises(FieldErrors) as caught:
        price_from("m", {"input_per_mtok": "1", "per_image": "-1"}, None)
    assert set(caught.value.errors) == {"per_image"}
