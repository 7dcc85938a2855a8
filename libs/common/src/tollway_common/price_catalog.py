"""Built-in prices for models the operator has not priced, from genai-prices (pydantic's
maintained price catalog, MIT, its data bundled in the wheel: no download at run time).

Operator prices (KV `tollway_prices`, keyed by alias) always win; the catalog is asked only
for an alias without one, by the provider and the published model a deployment runs; what
neither knows stays unpriced, so the unpriced alarm keeps firing for it. A catalog price names
itself in usage rows with `version` `catalog:genai-prices-<version>`.

Tiered prices (Anthropic's long-context rates) are taken at their base tier: the catalog's
price for a prompt under the first threshold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from importlib.metadata import version

from genai_prices import data_snapshot
from genai_prices.types import ModelInfo, ModelPrice, TieredPrices

from tollway_common.control import Price, kv_key_for_alias
from tollway_common.providers import FACTS, Provider

CATALOG_VERSION = f"catalog:genai-prices-{version('genai-prices')}"
_MINUTES_PER_HOUR = Decimal(60)
# Lookups remembered, models that are not in the catalog too; forgotten all at once past this
# (the names come from upstream answers, so they are not bounded by the configuration).
_REMEMBERED = 4096


def _rate(model_price: ModelPrice, key: str) -> Decimal | None:
    value = getattr(model_price, key, None)
    if isinstance(value, TieredPrices):
        return value.base
    return value if isinstance(value, Decimal) else None


def to_price(model: str, model_price: ModelPrice) -> Price | None:
    """A catalog price as Tollway's `Price`, or None when it prices none of the units Tollway
    meters (tokens, characters spoken, minutes of audio heard)."""
    input_rate = _rate(model_price, "input_mtok")
    output_rate = _rate(model_price, "output_mtok")
    per_mchar = _rate(model_price, "input_mchars")
    audio_hours = _rate(model_price, "input_audio_hours") or _rate(model_price, "audio_hours")
    if input_rate is None and output_rate is None and per_mchar is None and audio_hours is None:
        return None
    return Price(
        model=model,
        input_per_mtok=input_rate or Decimal(0),
        output_per_mtok=output_rate or Decimal(0),
        cached_read_per_mtok=_rate(model_price, "cache_read_mtok"),
        cache_write_per_mtok=_rate(model_price, "cache_write_mtok"),
        per_mchar=per_mchar,
        per_audio_minute=audio_hours / _MINUTES_PER_HOUR if audio_hours is not None else None,
        version=CATALOG_VERSION,
    )


class PriceCatalog:
    """The catalog's price of a published model at one provider (`Provider` values, as usage
    events and deployments spell them); None where the catalog does not know it."""

    def __init__(self) -> None:
        self._snapshot = data_snapshot.get_snapshot()
        self._found: dict[tuple[str, str], ModelInfo | None] = {}

    def price(self, provider: str, model: str, now: datetime | None = None) -> Price | None:
        info = self._find(provider, model)
        if info is None:
            return None
        return to_price(info.id, info.get_prices(now or datetime.now(UTC)))

    def highest(self, targets: Iterable[tuple[str, str]]) -> Price | None:
        """The dearest catalog price among (provider, model) targets: what the request may cost
        wherever it is sent (budgets reserve the worst case)."""
        prices = [p for provider, model in targets if (p := self.price(provider, model))]
        return max(prices, key=lambda p: (p.output_per_mtok, p.input_per_mtok), default=None)

    def _find(self, provider: str, model: str) -> ModelInfo | None:
        key = (provider, model)
        if key not in self._found:
            if len(self._found) >= _REMEMBERED:
                self._found.clear()
            self._found[key] = self._lookup(provider, model)
        return self._found[key]

    def _lookup(self, provider: str, model: str) -> ModelInfo | None:
        try:
            facts = FACTS[Provider(provider)]
        except ValueError:
            return None
        if facts.catalog_id is None or not model:
            return None
        try:
            _, info = self._snapshot.find_provider_model(model, None, facts.catalog_id, None)
        except LookupError:
            return None
        return info


def price_for(
    operator: Mapping[str, Price],
    alias: str,
    catalog: PriceCatalog | None,
    targets: Iterable[tuple[str, str]],
) -> Price | None:
    """The operator's price of `alias` when there is one, else the catalog's (when it is on)
    for the (provider, model) targets that serve it, else None: unpriced."""
    own = operator.get(kv_key_for_alias(alias))
    if own is not None or catalog is None:
        return own
    return catalog.highest(targets)
