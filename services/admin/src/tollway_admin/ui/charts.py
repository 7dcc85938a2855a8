"""Small SVG bar charts rendered on the server: no chart library, works offline, and screen
readers get the figures from the title and the table next to each chart."""

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
