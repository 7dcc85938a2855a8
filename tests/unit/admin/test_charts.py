from __future__ import annotations

import re

from tollway_admin.ui.charts import burn_down_chart, stacked_bar_chart

DAY = 86_400_000


def _chart(points: list[tuple[int, float]], limit: float = 10.0) -> str:
    return str(
        burn_down_chart(
            "Burn-down of budget b for key k",
            points,
            start_ms=0,
            end_ms=10 * DAY,
            now_ms=5 * DAY,
            limit=limit,
        )
    )


def test_a_burn_down_is_an_accessible_svg_with_a_step_line_and_the_budget_line() -> None:
    svg = _chart([(0, 2.0), (DAY, 5.0)])
    assert svg.startswith('<svg class="chart burn" role="img"')
    assert 'aria-label="Burn-down of budget b for key k"' in svg
    assert "<title>Burn-down of budget b for key k</title>" in svg
    # Up from 0 to 2 on day 0, flat to day 1, up to 5, then flat until now (half the width).
    (path,) = re.findall(r'<path class="spent" d="([^"]+)"', svg)
    assert path == "M8.0,112.0H8.0V93.1H38.4V64.7H160.0"
    assert 'class="limit"' in svg
    assert 'y1="17.5"' in svg  # the amount line: 10 of a y axis that tops out at 11


def test_spend_past_the_budget_is_marked_and_stays_inside_the_chart() -> None:
    svg = _chart([(0, 4.0), (DAY, 25.0)])
    assert svg.startswith('<svg class="chart burn over"')
    (path,) = re.findall(r'<path class="spent" d="([^"]+)"', svg)
    heights = [float(v) for v in re.findall(r"V([0-9.]+)", path)]
    assert min(heights) >= 8.0


def test_no_spend_is_a_flat_line_at_zero_and_titles_are_escaped() -> None:
    svg = str(burn_down_chart("<b>", [], start_ms=0, end_ms=DAY, now_ms=2 * DAY, limit=1.0))
    assert "<title>&lt;b&gt;</title>" in svg
    (path,) = re.findall(r'<path class="spent" d="([^"]+)"', svg)
    assert path == "M8.0,112.0H312.0"  # now past the end is drawn at the end


def test_a_stacked_bar_splits_each_bucket_by_series_and_names_them() -> None:
    svg = str(
        stacked_bar_chart(
            "Requests per hour by key",
            ["12-07 09:00", "12-07 10:00"],
            [("browser-app", [3.0, 1.0]), ("others", [1.0, 0.0])],
        )
    )
    assert svg.startswith('<svg class="chart stacked" role="img"')
    assert "<title>Requests per hour by key</title>" in svg
    # A legend entry per series, a segment per non-zero value, the total after each bar.
    assert re.findall(r"<text x=\"\d+\" y=\"15\">([^<]+)</text>", svg) == ["browser-app", "others"]
    bars = r'<rect class="s(\d)" x="[0-9.]+" y="\d+" width="([0-9.]+)" height="18"'
    segments = re.findall(bars, svg)
    assert [(series, float(width)) for series, width in segments] == [
        ("0", 292.5),
        ("1", 97.5),
        ("0", 97.5),
    ]
    assert "<title>browser-app: 3</title>" in svg
    assert ">4</text>" in svg
    assert ">1</text>" in svg


def test_a_stacked_chart_of_nothing_is_empty() -> None:
    assert str(stacked_bar_chart("Cost per day by team", [], [("others", [])])) == ""
