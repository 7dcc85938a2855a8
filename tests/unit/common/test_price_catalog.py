"""The built-in price catalog (genai-prices): what it knows becomes Tollway's `Price`, costs the
same as genai-prices' own calculation, and never overrides an operator's price."""

from __future__ import annotations

from decimal import Decimal

import pytest
from genai_prices import Usage, calc_price, data_snapshot

from tollway_common.control import Price, kv_key_for_alias
from tollway_common.price_catalog import CATALOG_VERSION, PriceCatalog, price_for
from tollway_common.pricing import cost_of, media_cost
from tollway_common.providers import FACTS, Provider

CATALOG = PriceCatalog()


def test_a_known_openai_model_is_priced_and_says_where_its_price_came_from() -> None:
    price = CATALOG.price("openai", "gpt-4o-mini")
    assert price is not None
    assert price.version == CATALOG_VERSION
    assert CATALOG_VERSION.startswith("catalog:genai-prices-")
    assert price.currency == "USD"
    assert price.input_per_mtok > 0
    assert price.output_per_mtok > price.input_per_mtok
    assert price.cached_read_per_mtok is not None
    assert price.cached_read_per_mtok < price.input_per_mtok


def test_the_dated_name_an_upstream_answers_with_finds_the_same_price() -> None:
    assert CATALOG.price("openai", "gpt-4o-mini-2024-07-18") == CATALOG.price(
        "openai", "gpt-4o-mini"
    )


@pytest.mark.parametrize(
    ("provider", "model", "usage"),
    [
        ("openai", "gpt-4o-mini", (12_000, 3_000, 4_000, 0)),
        ("azure_openai", "gpt-4o", (5_000, 700, 0, 0)),
        ("anthropic", "claude-3-5-haiku-latest", (9_000, 1_000, 2_000, 1_500)),
    ],
)
def test_costs_agree_with_genai_prices_own_calculation(
    provider: str, model: str, usage: tuple[int, int, int, int]
) -> None:
    prompt, completion, cached, written = usage
    price = CATALOG.price(provider, model)
    assert price is not None
    catalog_id = FACTS[Provider(provider)].catalog_id
    theirs = calc_price(
        Usage(
            input_tokens=prompt,
            output_tokens=completion,
            cache_read_tokens=cached,
            cache_write_tokens=written,
        ),
        model_ref=model,
        provider_id=catalog_id,
    ).total_price
    assert cost_of(price, prompt, completion, cached, written) == theirs


def test_tiered_prices_are_taken_at_their_base_tier() -> None:
    price = CATALOG.price("anthropic", "claude-sonnet-4-5")
    assert price is not None
    theirs = calc_price(
        Usage(input_tokens=10_000, output_tokens=1_000),
        model_ref="claude-sonnet-4-5",
        provider_id="anthropic",
    ).total_price
    assert cost_of(price, 10_000, 1_000) == theirs


def test_speech_and_transcription_are_priced_in_their_own_units() -> None:
    speech = CATALOG.price("openai", "tts-1")
    assert speech is not None
    assert speech.per_mchar is not None
    assert media_cost(speech, 0, 0.0, 1_000_000) == speech.per_mchar
    heard = CATALOG.price("openai", "whisper-1")
    assert heard is not None
    assert heard.per_audio_minute is not None
    theirs = calc_price(
        Usage(audio_seconds=90, input_audio_seconds=90), model_ref="whisper-1", provider_id="openai"
    ).total_price
    assert media_cost(heard, 0, 90.0, 0) == theirs


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("fake", "gpt-4o-mini"),  # the in-process fake is never priced
        ("openai", "llama3.1:8b"),  # a local model behind an OpenAI-compatible server
        ("openai", ""),  # no model reported
        ("no-such-provider", "gpt-4o-mini"),
    ],
)
def test_what_the_catalog_does_not_know_stays_unpriced(provider: str, model: str) -> None:
    assert CATALOG.price(provider, model) is None


def test_every_real_provider_names_a_provider_the_catalog_has() -> None:
    snapshot = data_snapshot.get_snapshot()
    for provider, facts in FACTS.items():
        if provider is Provider.FAKE:
            assert facts.catalog_id is None
            continue
        assert facts.catalog_id is not None, provider
        assert snapshot.find_provider(None, facts.catalog_id, None).id == facts.catalog_id


OWN = Price(model="mini", input_per_mtok=Decimal(9), output_per_mtok=Decimal(9), version="v7")


def test_an_operator_price_always_wins() -> None:
    operator = {kv_key_for_alias("mini"): OWN}
    assert price_for(operator, "mini", CATALOG, [("openai", "gpt-4o-mini")]) == OWN


def test_the_catalog_fills_only_an_alias_without_an_operator_price() -> None:
    operator = {kv_key_for_alias("mini"): OWN}
    found = price_for(operator, "other", CATALOG, [("openai", "gpt-4o-mini")])
    assert found == CATALOG.price("openai", "gpt-4o-mini")


def test_with_the_catalog_off_an_unpriced_alias_stays_unpriced() -> None:
    assert price_for({}, "mini", None, [("openai", "gpt-4o-mini")]) is None


def test_an_alias_over_several_models_reserves_at_the_dearest() -> None:
    targets = [("openai", "gpt-4o-mini"), ("openai", "gpt-4o"), ("fake", "x")]
    dearest = CATALOG.highest(targets)
    assert dearest == CATALOG.price("openai", "gpt-4o")
    assert CATALOG.highest([("fake", "x")]) is None
