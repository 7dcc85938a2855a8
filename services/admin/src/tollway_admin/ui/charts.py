"""Small SVG charts rendered on the server (bars, and a budget's burn-down as a step line): no
chart library, works offline, and screen readers get the figures from the title and the table
or text next to each chart."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

_WIDTH, _BAR, _GAP, _LABEL = 640, 18, 6, 160


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float], unit: str = "") -> Markup:
    if not values:
        return Markup("")
    top = max(max(values), 1e-12)
    height = len(values) * (_BAR + _GAP) + _GAP
    span = _WIDTH - _LABEL - 90
    bars = []
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = _GAP + index * (_BAR + _GAP)
        width = max(1.0, span * value / top)
        bars.append(
            f'<text x="{_LABEL - 6}" y="{y + 13}" text-anchor="end">{escape(label[:24])}</text>'
            f'<rect x="{_LABEL}" y="{y}" width="{width:.1f}" height="{_BAR}" rx="3"></rect>'
            f'<text x="{_LABEL + width + 6:.1f}" y="{y + 13}">{value:,.6g}{escape(unit)}</text>'
        )
    return Markup(
        f'<svg class="chart" role="img" viewBox="0 0 {_WIDTH} {height}" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>{"".join(bars)}</svg>'
    )


_BURN_W, _BURN_H, _PAD = 320, 120, 8


def burn_down_chart(
    title: str,
    points: Sequence[tuple[int, float]],
    *,
    start_ms: int,
    end_ms: int,
    now_ms: int,
    limit: float,
) -> Markup:
    """Cumulative spend as a step line from the period's start (0) to now, against a dashed
    line at the budget's amount; the x axis spans the whole period, so the gap to the right
    edge is the time left."""
    span_ms = max(end_ms - start_ms, 1)
    top = max([limit, *(value for _, value in points)]) * 1.1 or 1.0

    def x(millis: int) -> float:
        inside = min(max(millis, start_ms), end_ms)
        return _PAD + (_BURN_W - 2 * _PAD) * (inside - start_ms) / span_ms

    def y(value: float) -> float:
        return _BURN_H - _PAD - (_BURN_H - 2 * _PAD) * value / top

    path = [f"M{x(start_ms):.1f},{y(0):.1f}"]
    for millis, value in points:
        path.append(f"H{x(millis):.1f}V{y(value):.1f}")
    path.append(f"H{x(now_ms):.1f}")
    over = bool(points) and points[-1][1] >= limit
    line_y = y(limit)
    return Markup(
        f'<svg class="chart burn{" over" if over else ""}" role="img" '
        f'viewBox="0 0 {_BURN_W} {_BURN_H}" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
        f'<line class="limit" x1="{_PAD}" y1="{line_y:.1f}" x2="{_BURN_W - _PAD}" '
        f'y2="{line_y:.1f}"></line>'
        f'<path class="spent" d="{"".join(path)}"></path></svg>'
    )
