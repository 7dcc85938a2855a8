"""What each usage event costs, from the price table in the control plane (KV, live), or from
the built-in catalog (tollway_common.price_catalog) for an alias the operator has not priced."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tollway_common.contract import UsageEvent
from tollway_common.control import Price
from tollway_common.kv_mirror import KvMirror
from tollway_common.price_catalog import PriceCatalog, price_for
from tollway_common.pricing import cost_of, media_cost

# ClickHouse Decimal(18, 9): nine places after the point.
_PLACES = Decimal("0.000000001")


@dataclass(frozen=True, slots=True)
class Charge:
    """What a row is billed. `cost` is what the provider's reported usage costs at the price;
    an estimate (`usage_estimated`) is never priced as real: its cost is 0 and the price of
    the estimate is `estimated_cost`, which no total sums."""

    cost: Decimal
    currency: str
    price_version: str
    unpriced: bool
    estimated_cost: Decimal = Decimal(0)


UNPRICED = Charge(Decimal(0), "", "", True)


def charge(event: UsageEvent, price: Price | None) -> Charge:
    if price is None:
        return UNPRICED
    cost = cost_of(
        price,
        event.prompt_tokens,
        event.completion_tokens,
        event.cached_read_tokens,
        event.cache_write_tokens,
    ) + media_cost(price, event.images, event.audio_seconds, event.characters)
    if event.batch_id and price.batch_multiplier is not None:
        cost *= price.batch_multiplier
    cost = cost.quantize(_PLACES)
    if event.usage_estimated:
        return Charge(Decimal(0), price.currency, price.version, False, estimated_cost=cost)
    return Charge(cost, price.currency, price.version, False)


class PriceBook:
    def __init__(self, prices: KvMirror[Price], catalog: PriceCatalog | None = None) -> None:
        self._prices = prices
        self._catalog = catalog

    def charge(self, event: UsageEvent) -> Charge:
        """At the price of the alias that answered (a fallback's, when one did), else at the
        catalog's price of the model the upstream says answered."""
        alias = event.served_model or event.model_alias
        target = (event.provider, event.upstream_model)
        return charge(event, price_for(self._prices.items, alias, self._catalog, [target]))
