from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from tollway_admin.ui.audit_filter import audit_query, filter_query_string
from tollway_admin.ui.form_values import FieldErrors
from tollway_common.contract import AuditQuery

DEC_7 = 1_796_601_600_000  # 2026-12-07T00:00:00Z
DAY = 86_400_000


def test_dates_become_whole_utc_days_and_to_is_inclusive() -> None:
    values = {"from": "2026-12-07", "to": "2026-12-08", "action": "team.update", "actor_id": ""}
    assert audit_query(values) == AuditQuery(
        since_ms=DEC_7, until_ms=DEC_7 + 2 * DAY, action="team.update", limit=200
    )


def test_an_empty_filter_selects_everything() -> None:
    assert audit_query({}) == AuditQuery(limit=200)
    assert audit_query({}, limit=100_000).limit == 100_000


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"from": "07/12/2026"}, "from"),
        ({"to": "2026-13-01"}, "to"),
        ({"from": "2026-12-08", "to": "2026-12-07"}, "to"),
        ({"action": "key.update' OR 1=1"}, "action"),
        ({"actor_id": "x" * 200}, "actor_id"),
        ({"resource_type": "planet"}, "resource_type"),
    ],
)
def test_a_bad_filter_names_its_field(values: dict[str, str], field: str) -> None:
    with pytest.raises(FieldErrors) as caught:
        audit_query(values)
    assert set(caught.value.errors) == {field}


def test_the_download_carries_the_filter_that_is_set() -> None:
    query = filter_query_string(
        {"from": "2026-12-07", "to": "", "action": "team.update", "actor_id": " alice "}
    )
    assert parse_qs(query) == {
        "from": ["2026-12-07"],
        "action": ["team.update"],
        "actor_id": ["alice"],
    }
