"""The overview's traffic tiles come from one per-minute summary, so one render is one
snapshot of metering's rows."""

from __future__ import annotations

from decimal import Decimal

from tollway_admin.ui.pages.overview import RATE_WINDOW_S, rate_window_start_ms, traffic_of
from tollway_common.contract import SummaryRow

MINUTE_MS = 60_000
MIDNIGHT_MS = 1_796_601_600_000  # 2026-12-07T00:00:00Z
NOW_MS = MIDNIGHT_MS + 10 * 3600 * 1000 + 30_000  # 10:00:30
HOUR = SummaryRow(requests=9, latency_p50_ms=12.0)


def _minute(minutes_ago: int, **figures: object) -> SummaryRow:
    start = (NOW_MS // MINUTE_MS - minutes_ago) * MINUTE_MS
    return SummaryRow.model_validate({"bucket_ms": start, **figures})


def test_one_request_in_the_window_is_a_rate_above_zero() -> None:
    traffic = traffic_of([_minute(2, requests=1, prompt_tokens=5)], HOUR, NOW_MS, MIDNIGHT_MS)
    assert traffic.requests_per_s == 1 / (RATE_WINDOW_S + 30)
    assert traffic.today_tokens == 5
    assert traffic.latency == HOUR


def test_the_rate_covers_whole_minutes_from_five_minutes_ago() -> None:
    assert NOW_MS - rate_window_start_ms(NOW_MS) == (RATE_WINDOW_S + 30) * 1000
    minutes = [
        _minute(6, requests=7, errors=7),
        _minute(5, requests=2, errors=1),
        _minute(0, requests=2, errors=0),
    ]
    traffic = traffic_of(minutes, HOUR, NOW_MS, MIDNIGHT_MS)
    assert traffic.requests_per_s == 4 / (RATE_WINDOW_S + 30)
    assert traffic.error_rate == 0.25


def test_today_counts_from_midnight_and_sums_spend_per_currency() -> None:
    just_after_midnight = MIDNIGHT_MS + 2 * MINUTE_MS
    before = SummaryRow(bucket_ms=MIDNIGHT_MS - MINUTE_MS, requests=1, prompt_tokens=100)
    rows = [
        before,
        SummaryRow(bucket_ms=MIDNIGHT_MS, requests=1, prompt_tokens=3, cost="0.5", currency="USD"),
        SummaryRow(
            bucket_ms=MIDNIGHT_MS + MINUTE_MS,
            requests=2,
            completion_tokens=4,
            cost="0.25",
            currency="USD",
            unpriced_requests=1,
        ),
    ]
    traffic = traffic_of(rows, HOUR, just_after_midnight, MIDNIGHT_MS)
    assert traffic.requests_per_s == 4 / RATE_WINDOW_S, "the window reaches into yesterday"
    assert traffic.today_tokens == 7
    assert traffic.today_spend == [(Decimal("0.75"), "USD")]
    assert traffic.today_unpriced == 1


def test_no_traffic_is_zero_everywhere() -> None:
    traffic = traffic_of([], SummaryRow(), NOW_MS, MIDNIGHT_MS)
    assert (traffic.requests_per_s, traffic.error_rate, traffic.today_tokens) == (0.0, 0.0, 0)
    assert traffic.today_spend == []
