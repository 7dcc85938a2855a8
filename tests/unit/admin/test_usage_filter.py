"""The usage page's filter: a window of whole hours back from now and names within the API's
limits; anything else is a FieldErrors naming the field, which the page shows with a 400."""

from __future__ import annotations

import pytest

from tollway_admin.routes.filters import MAX_MILLIS
from tollway_admin.ui.form_values import FieldErrors
from tollway_admin.ui.usage_filter import DEFAULT_HOURS, MAX_HOURS, export_filter, window_filter
from tollway_common.contract import UsageFilter

NOW_MS = 1_796_601_600_000  # 2026-12-07T00:00:00Z
HOUR_MS = 3_600_000


def test_the_window_reaches_back_the_hours_asked_for_with_the_names() -> None:
    values = {"hours": "168", "team_id": " ml ", "model_alias": "gpt", "deployment": "east"}
    assert window_filter(values, NOW_MS) == (
        UsageFilter(
            since_ms=NOW_MS - 168 * HOUR_MS, team_id="ml", model_alias="gpt", deployment="east"
        ),
        168,
    )


def test_no_hours_means_the_default_window() -> None:
    assert window_filter({"hours": ""}, NOW_MS) == (
        UsageFilter(since_ms=NOW_MS - DEFAULT_HOURS * HOUR_MS),
        DEFAULT_HOURS,
    )
    assert window_filter({}, NOW_MS)[1] == DEFAULT_HOURS


@pytest.mark.parametrize(
    "hours", ["abc", "0", "-1", "1.5", "1e3", str(MAX_HOURS + 1), "9" * 5000, "٣"]
)
def test_hours_that_are_no_window_name_the_field(hours: str) -> None:
    with pytest.raises(FieldErrors) as caught:
        window_filter({"hours": hours}, NOW_MS)
    assert caught.value.errors == {"hours": f"a whole number from 1 to {MAX_HOURS}"}


def test_every_bad_field_is_named_at_once() -> None:
    with pytest.raises(FieldErrors) as caught:
        window_filter({"hours": "x", "team_id": "t" * 201, "deployment": "d" * 201}, NOW_MS)
    assert set(caught.value.errors) == {"hours", "team_id", "deployment"}


def test_the_export_link_carries_a_checked_start() -> None:
    assert export_filter({"since_ms": "5", "team_id": "ml"}) == UsageFilter(
        since_ms=5, team_id="ml"
    )
    assert export_filter({}) == UsageFilter()


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"since_ms": "yesterday"}, "since_ms"),
        ({"since_ms": "-5"}, "since_ms"),
        ({"since_ms": str(MAX_MILLIS + 1)}, "since_ms"),
        ({"model_alias": "m" * 201}, "model_alias"),
    ],
)
def test_a_bad_export_link_names_its_field(values: dict[str, str], field: str) -> None:
    with pytest.raises(FieldErrors) as caught:
        export_filter(values)
    assert set(caught.value.errors) == {field}
