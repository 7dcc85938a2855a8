"""What a request costs: exact decimal arithmetic on a model's price, never floats.

`prompt_tokens` already includes cached reads and cache writes (see `contract.Usage`), so they
are priced at their own rates and taken out of the plain input share, never counted twice.
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, Decimal

from tollway_common.control import Price

PER = Decimal(1_000_000)
MICRO = Decimal(1_000_000)


def cost_of(
    price: Price,
    prompt_tokens: int,
    completion_tokens: int,
    cached_read_tokens: int = 0,
    cache_write_tokens: int = 0,
) -> Decimal:
    cached = min(cached_read_tokens, prompt_tokens)
    writes = min(cache_write_tokens, prompt_tokens - cached)
    plain = prompt_tokens - cached - writes
    cached_price = (
        price.cached_read_per_mtok
        if price.cached_read_per_mtok is not None
        else price.input_per_mtok
    )
    write_price = (
        price.cache_write_per_mtok
        if price.cache_write_per_mtok is not None
        else price.input_per_mtok
    )
    total = (
        plain * price.input_per_mtok
        + cached * cached_price
        + writes * write_price
        + completion_tokens * price.output_per_mtok
    )
    return total / PER


def media_cost(price: Price, images: int, audio_seconds: float, characters: int) -> Decimal:
    """The cost of the units images and audio are billed in, on top of any tokens: images
    made, minutes of audio heard (to the millisecond), characters spoken."""
    total = Decimal(0)
    if price.per_image is not None:
        total += images * price.per_image
    if price.per_audio_minute is not None and math.isfinite(audio_seconds) and audio_seconds > 0:
        # Through its shortest decimal form, so 12.5 s is 12.5 exactly, not the float's tail.
        total += Decimal(repr(audio_seconds)) / 60 * price.per_audio_minute
    if price.per_mchar is not None:
        total += characters * price.per_mchar / PER
    return total


def worst_case_cost(price: Price, prompt_tokens: int, max_completion_tokens: int) -> Decimal:
    """The most a request can cost: its whole prompt at the highest input rate and every token
    it may generate."""
    highest_input = max(
        rate
        for rate in (price.input_per_mtok, price.cached_read_per_mtok, price.cache_write_per_mtok)
        if rate is not None
    )
    return (prompt_tokens * highest_input + max_completion_tokens * price.output_per_mtok) / PER


def to_micro_units(amount: Decimal) -> int:
    """Whole millionths of the currency, rounded up (what Redis counts budgets in)."""
    return int((amount * MICRO).to_integral_value(rounding=ROUND_CEILING))
