"""Times typed on the command line: spans back from now, or ISO 8601 dates (UTC by default)."""

from __future__ import annotations

import pytest

from tollway_cli.timespec import BadTime, to_millis

NOW_S = 1_765_000_000.0


@pytest.mark.parametrize(
    ("value", "seconds_back"),
    [("90s", 90), ("15m", 900), ("24h", 86_400), ("7d", 604_800), ("2w", 1_209_600)],
)
def test_a_span_counts_back_from_now(value: str, seconds_back: int) -> None:
    assert to_millis(value, NOW_S) == int((NOW_S - seconds_back) * 1000)


@pytest.mark.parametrize(
    ("value", "millis"),
    [
        ("2026-12-01", 1_796_083_200_000),
        ("2026-12-01T09:30", 1_796_117_400_000),
        ("2026-12-01T09:30:00Z", 1_796_117_400_000),
        ("2026-12-01T10:30:00+01:00", 1_796_117_400_000),
    ],
)
def test_an_iso_date_is_utc_unless_it_says_otherwise(value: str, millis: int) -> None:
    assert to_millis(value, NOW_S) == millis


@pytest.mark.parametrize("value", ["yesterday", "3x", "-5m", "", "2026-13-01"])
def test_anything_else_says_what_to_type(value: str) -> None:
    with pytest.raises(BadTime, match="15m, 24h, 7d"):
        to_millis(value, NOW_S)
