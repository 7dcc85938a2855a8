"""Small SVG charts rendered on the server (bars, stacked bars, and a budget's burn-down as a
step line): no chart library, works offline, and screen readers get the figures from the title
and the table or text next to each chart."""

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


# Segment colours of a stacked chart (`s0`..`s5` in tollway.css): the largest five and the rest.
STACK_SERIES = 6
_LEGEND = 22


def stacked_bar_chart(
    title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]]
) -> Markup:
    """One bar per label split into one segment per series (at most `STACK_SERIES`), with a
    legend on top; each segment names its series and value on hover."""
    totals = [sum(values[i] for _, values in series) for i in range(len(labels))]
    if not totals:
        return Markup("")
    top = max(max(totals), 1e-12)
    height = _LEGEND + len(labels) * (_BAR + _GAP) + _GAP
    span = _WIDTH - _LABEL - 90
    legend = "".join(
        f'<rect class="s{j}" x="{8 + j * 104}" y="6" width="10" height="10"></rect>'
        f'<text x="{22 + j * 104}" y="15">{escape(name[:14])}</text>'
        for j, (name, _) in enumerate(series[:STACK_SERIES])
    )
    bars = []
    for i, (label, total) in enumerate(zip(labels, totals, strict=True)):
        y = _LEGEND + _GAP + i * (_BAR + _GAP)
        bars.append(f'<text x="{_LABEL - 6}" y="{y + 13}" text-anchor="end">{escape(label)}</text>')
        x = float(_LABEL)
        for j, (name, values) in enumerate(series[:STACK_SERIES]):
            if values[i] <= 0:
                continue
            width = span * values[i] / top
            bars.append(
                f'<rect class="s{j}" x="{x:.1f}" y="{y}" width="{width:.1f}" height="{_BAR}">'
                f"<title>{escape(name)}: {values[i]:,.6g}</title></rect>"
            )
            x += width
        bars.append(f'<text x="{x + 6:.1f}" y="{y + 13}">{total:,.6g}</text>')
    return Markup(
        f'<svg class="chart stacked" role="img" viewBox="0 0 {_WIDTH} {height}" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>{legend}{"".join(bars)}</svg>'
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
