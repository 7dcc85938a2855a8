"""The usage page's filter (a window of hours back from now, team, model, deployment) to the
usage filter metering answers, and the export link's `since_ms` back to one: each value checked
against the API's limits (`routes/filters.py`), a bad one a FieldErrors naming its field, which
the page shows next to the field with a 400. Pure; `pages/usage.py` asks and renders."""

from __future__ import annotations

from collections.abc import Mapping

from tollway_admin.routes.filters import MAX_MILLIS, MAX_NAME_CHARS
from tollway_admin.ui.form_values import FieldErrors
from tollway_common.contract import UsageFilter

HOURS = ((1, "1 hour"), (24, "24 hours"), (168, "7 days"), (720, "30 days"))
DEFAULT_HOURS = 24
# A year: the warehouse keeps 400 days by default, and a longer window is an export's job.
MAX_HOURS = 8760
NAME_FIELDS = ("team_id", "model_alias", "deployment")
FILTER_FIELDS = ("hours", *NAME_FIELDS)
_HOUR_MS = 3_600_000


def _whole_number(text: str, field: str, low: int, high: int) -> int:
    # The length check first: int() refuses over 4300 digits with a ValueError of its own.
    digits = text.isascii() and text.isdigit() and len(text) <= len(str(high))
    if not digits or not low <= int(text) <= high:
        raise FieldErrors({field: f"a whole number from {low} to {high}"})
    return int(text)


def _names(values: Mapping[str, str]) -> dict[str, str]:
    names = {field: values.get(field, "").strip() for field in NAME_FIELDS}
    too_long = {
        field: f"at most {MAX_NAME_CHARS} characters"
        for field, value in names.items()
        if len(value) > MAX_NAME_CHARS
    }
    if too_long:
        raise FieldErrors(too_long)
    return names


def window_filter(values: Mapping[str, str], now_ms: int) -> tuple[UsageFilter, int]:
    """The filter for the last `hours` (default 24) before `now_ms`, and the hours."""
    errors: dict[str, str] = {}
    hours = DEFAULT_HOURS
    text = values.get("hours", "").strip()
    try:
        if text:
            hours = _whole_number(text, "hours", 1, MAX_HOURS)
    except FieldErrors as exc:
        errors.update(exc.errors)
    try:
        names = _names(values)
    except FieldErrors as exc:
        errors.update(exc.errors)
    if errors:
        raise FieldErrors(errors)
    return UsageFilter(since_ms=max(0, now_ms - hours * _HOUR_MS), **names), hours


def export_filter(values: Mapping[str, str]) -> UsageFilter:
    """The filter an export link carries (`since_ms` and the names the page filtered by)."""
    text = values.get("since_ms", "").strip()
    since_ms = _whole_number(text, "since_ms", 0, MAX_MILLIS) if text else 0
    return UsageFilter(since_ms=since_ms, **_names(values))
