"""Cost in exact decimals: cached reads and cache writes priced once, at their own rates."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tollway_common.budget_periods import current_period
from tollway_common.control import Budget, BudgetPeriod, Price
from tollway_common.pricing import cost_of, media_cost, to_micro_units, worst_case_cost

PRICE = Price(
    model="m",
    input_per_mtok=Decimal("3"),
    output_per_mtok=Decimal("15"),
    cached_read_per_mtok=Decimal("0.30"),
    cache_write_per_mtok=Decimal("3.75"),
)


def test_plain_tokens() -> None:
    assert cost_of(PRICE, 1_000_000, 1_000_000) == Decimal(18)


def test_cached_and_written_tokens_are_part_of_the_prompt_not_extra() -> None:
    # 1000 prompt tokens: 600 cached reads, 100 cache writes, 300 plain; 200 output.
    expected = (
        300 * Decimal(3) + 600 * Decimal("0.30") + 100 * Decimal("3.75") + 200 * Decimal(15)
    ) / 1_000_000
    assert cost_of(PRICE, 1000, 200, cached_read_tokens=600, cache_write_tokens=100) == expected
    assert expected == Decimal("0.004455")


def test_unset_cache_prices_fall_back_to_input() -> None:
    price = Price(model="m", input_per_mtok=Decimal(2), output_per_mtok=Decimal(8))
    assert cost_of(price, 1000, 0, cached_read_tokens=500) == Decimal("0.002")


def test_worst_case_uses_the_highest_input_rate_and_every_output_token() -> None:
    assert worst_case_cost(PRICE, 1000, 500) == (1000 * Decimal("3.75") + 500 * 15) / 1_000_000


def test_micro_units_round_up() -> None:
    assert to_micro_units(Decimal("0.0000001")) == 1
    assert to_micro_units(Decimal("1.5")) == 1_500_000


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        (BudgetPeriod.DAILY, datetime(2026, 11, 22), datetime(2026, 11, 23)),
        (BudgetPeriod.WEEKLY, datetime(2026, 11, 16), datetime(2026, 11, 23)),
        (BudgetPeriod.MONTHLY, datetime(2026, 11, 1), datetime(2026, 12, 1)),
    ],
)
def test_calendar_periods(period: BudgetPeriod, start: datetime, end: datetime) -> None:
    budget = Budget(budget_id="b", amount=Decimal(1), period=period)
    now = datetime(2026, 11, 22, 15, 30, tzinfo=UTC)
    assert current_period(budget, now) == (start.replace(tzinfo=UTC), end.replace(tzinfo=UTC))


def test_december_rolls_into_january() -> None:
    budget = Budget(budget_id="b", amount=Decimal(1))
    start, end = current_period(budget, datetime(2026, 12, 31, 23, tzinfo=UTC))
    assert (start.month, end.year, end.month) == (12, 2027, 1)


def test_custom_periods_repeat_from_their_start() -> None:
    origin = datetime(2026, 11, 1, tzinfo=UTC)
    budget = Budget(
        budget_id="b",
        amount=Decimal(1),
        period=BudgetPeriod.CUSTOM,
        period_days=10,
        starts_at=int(origin.timestamp()),
    )
    start, end = current_period(budget, datetime(2026, 11, 22, 15, tzinfo=UTC))
    assert (start.day, end.day) == (21, 1)


def test_images_audio_and_characters_cost_at_their_own_prices() -> None:
    price = Price(
        model="m",
        input_per_mtok=Decimal(5),
        output_per_mtok=Decimal(40),
        per_image=Decimal("0.04"),
        per_audio_minute=Decimal("0.006"),
        per_mchar=Decimal(15),
    )
    # 3 images, 12.5 seconds heard, 2000 characters spoken.
    expected = 3 * Decimal("0.04") + Decimal("12.5") / 60 * Decimal("0.006") + Decimal("0.03")
    assert media_cost(price, 3, 12.5, 2000) == expected


def test_media_units_without_a_price_cost_nothing_and_a_bad_duration_is_ignored() -> None:
    assert media_cost(PRICE, 3, 12.5, 2000) == 0
    price = PRICE.model_copy(update={"per_audio_minute": Decimal(1)})
    assert media_cost(price, 0, float("inf"), 0) == 0
    assert media_cost(price, 0, -5.0, 0) == 0
