"""The soak's flatness check: the floors of windows of minutes after the warm-up, so peaks
that come and go pass and a leak does not."""

from __future__ import annotations

from typing import Any

from bench.soak import flatness


def _minutes(rss: list[float], fds: list[float] | None = None) -> list[dict[str, Any]]:
    counts = fds or [20.0] * len(rss)
    return [
        {"minute": index + 1, "full": True, "services": {"edge": {"rss_mib": r, "fds": f}}}
        for index, (r, f) in enumerate(zip(rss, counts, strict=True))
    ]


def test_peaks_that_come_and_go_are_not_growth() -> None:
    rss = [50.0, 60.0, 100.0, 115.0, 100.0, 115.0, 100.0, 100.0, 100.0, 100.0, 118.0, 120.0]
    result = flatness(_minutes(rss), warmup=2, window=3)
    assert (result["from_minute"], result["to_minute"], result["window_minutes"]) == (3, 12, 3)
    assert result["services"]["edge"]["rss_mib"] == [100.0, 100.0]
    assert result["flat"]


def test_a_floor_that_rises_is_growth() -> None:
    fds = [20.0, 20.0, 20.0, 20.0, 20.0, 23.0, 23.0, 23.0]
    result = flatness(_minutes([100.0] * 8, fds), warmup=0, window=3)
    assert result["services"]["edge"]["fds"] == [20.0, 23.0]
    assert not result["flat"]


def test_a_steady_climb_is_not_flat() -> None:
    fds = [60.0 + 5 * minute for minute in range(20)]
    result = flatness(_minutes([100.0] * 20, fds), warmup=2, window=5)
    assert result["services"]["edge"]["growth"]["fds"] > 0.1
    assert not result["flat"]


def test_the_warm_up_is_left_out() -> None:
    rss = [10.0, 30.0, 100.0, 101.0, 102.0, 103.0]
    assert flatness(_minutes(rss), warmup=2, window=5)["flat"]
    assert not flatness(_minutes(rss), warmup=0, window=5)["flat"]


def test_a_short_run_compares_single_minutes_and_a_shorter_one_is_not_checked() -> None:
    result = flatness(_minutes([100.0, 100.0, 100.0, 130.0]), warmup=2, window=5)
    assert (result["window_minutes"], result["from_minute"], result["to_minute"]) == (1, 3, 4)
    assert not result["flat"]
    assert not flatness(_minutes([100.0, 100.0, 100.0]), warmup=2)["checked"]
