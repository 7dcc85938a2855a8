"""The request log's SQL: filters bound as parameters (never spliced into the text), status
classes and codes, bounded pages, a newest-first cursor, and one row per source in a detail."""

from __future__ import annotations

from typing import Any

import pytest

from tollway_common.contract import (
    REQUEST_STATUS_CLASSES,
    RequestDetailQuery,
    RequestLogQuery,
    UsageFilter,
    UsageRow,
)
from tollway_metering.queries import QueryError
from tollway_metering.request_log import (
    DETAIL_EXTRA_SELECT,
    MAX_PAGE_ROWS,
    request_bodies_sql,
    request_detail_sql,
    request_log_sql,
    status_clause,
    to_request_records,
)
from tollway_metering.rows import USAGE_ROW_SELECT

TABLE = "tollway.usage_requests"
HOSTILE = "x' OR 1=1; DROP TABLE tollway.usage_requests; --"


def test_filter_values_travel_as_parameters_never_in_the_sql() -> None:
    query = RequestLogQuery(
        filter=UsageFilter(key_id=HOSTILE, model_alias=HOSTILE, team_id="ml", since_ms=5),
        status="4xx",
        request_id_prefix="0192f0c4",
    )
    sql, parameters = request_log_sql(TABLE, query)
    assert HOSTILE not in sql
    assert "0192f0c4" not in sql
    assert parameters["key_id"] == parameters["model_alias"] == HOSTILE
    assert parameters["team_id"] == "ml"
    assert parameters["id_prefix"] == "0192f0c4"
    assert (parameters["status_low"], parameters["status_high"]) == (400, 499)
    assert "key_id = {key_id:String}" in sql
    assert "startsWith(request_id, {id_prefix:String})" in sql
    assert "ORDER BY received_at DESC, request_id DESC" in sql
    assert f"FROM {TABLE} FINAL" in sql


def test_a_page_continues_before_the_cursor() -> None:
    sql, parameters = request_log_sql(
        TABLE, RequestLogQuery(limit=10, before_ms=1_700_000_000_000, before_request_id="abc")
    )
    assert "(received_at, request_id) < " in sql
    assert (parameters["before_ms"], parameters["before_id"], parameters["limit"]) == (
        1_700_000_000_000,
        "abc",
        10,
    )


def test_no_filter_selects_every_request() -> None:
    sql, parameters = request_log_sql(TABLE, RequestLogQuery())
    assert "WHERE" not in sql
    assert parameters == {"limit": 50}


@pytest.mark.parametrize("limit", [0, -1, MAX_PAGE_ROWS + 1])
def test_page_sizes_are_bounded(limit: int) -> None:
    with pytest.raises(QueryError, match="limit"):
        request_log_sql(TABLE, RequestLogQuery(limit=limit))


@pytest.mark.parametrize("prefix", ["a b", "x'--", "é", "a" * 129])
def test_a_request_id_prefix_outside_the_id_alphabet_is_refused(prefix: str) -> None:
    with pytest.raises(QueryError, match="request_id"):
        request_log_sql(TABLE, RequestLogQuery(request_id_prefix=prefix))


@pytest.mark.parametrize(
    ("status", "bounds"),
    [
        ("ok", (200, 299)),
        ("2xx", (200, 299)),
        ("3xx", (300, 399)),
        ("4xx", (400, 499)),
        ("5xx", (500, 599)),
        ("error", (400, 599)),
    ],
)
def test_a_status_class_is_a_range(status: str, bounds: tuple[int, int]) -> None:
    parameters: dict[str, Any] = {}
    assert status_clause(status, parameters) == (
        "status_code BETWEEN {status_low:UInt16} AND {status_high:UInt16}"
    )
    assert (parameters["status_low"], parameters["status_high"]) == bounds


def test_every_status_class_the_contract_names_has_a_range() -> None:
    for status in REQUEST_STATUS_CLASSES:
        assert status_clause(status, {}) is not None


def test_a_status_code_is_one_code() -> None:
    parameters: dict[str, Any] = {}
    assert status_clause("429", parameters) == "status_code = {status_code:UInt16}"
    assert parameters == {"status_code": 429}
    assert status_clause("", parameters) is None


@pytest.mark.parametrize("status", ["teapot", "42", "600", "4XX ", "1=1"])
def test_other_statuses_are_refused(status: str) -> None:
    with pytest.raises(QueryError, match="status must be"):
        status_clause(status, {})


def test_a_detail_reads_every_source_in_the_readers_scope() -> None:
    query = RequestDetailQuery(request_id="req-1", filter=UsageFilter(team_id=HOSTILE))
    sql, parameters = request_detail_sql(TABLE, query)
    assert HOSTILE not in sql
    assert "FINAL" not in sql, "the edge's estimate beside the router's row is part of it"
    assert (parameters["request_id"], parameters["team_id"]) == ("req-1", HOSTILE)
    bodies_sql, body_parameters = request_bodies_sql("tollway.request_bodies", query)
    assert HOSTILE not in bodies_sql
    assert body_parameters == {"request_id": "req-1", "team_id": HOSTILE}


@pytest.mark.parametrize("request_id", ["", "a/b", "x' OR '1'='1", "a" * 129])
def test_a_malformed_request_id_is_refused(request_id: str) -> None:
    with pytest.raises(QueryError, match="request id"):
        request_detail_sql(TABLE, RequestDetailQuery(request_id=request_id))
    with pytest.raises(QueryError, match="request id"):
        request_bodies_sql("tollway.request_bodies", RequestDetailQuery(request_id=request_id))


def _stored(source: str, status: int, inserted_at_ms: int) -> list[Any]:
    """A result row as `request_detail_sql` selects it: the UsageRow columns, then the extras."""
    row = UsageRow(
        request_id="req-1",
        received_at_ms=1000,
        key_id="key_a",
        model_alias="m",
        deployment="d",
        provider="openai",
        endpoint="chat_completions",
        status_code=status,
        error_type="",
        prompt_tokens=3,
        completion_tokens=4,
        total_tokens=7,
        latency_ms=12.5,
        ttft_ms=None,
        stream=False,
    )
    router_id = "router-1" if source == "router" else ""
    return [*row.model_dump().values(), source, router_id, "app", 9.5, inserted_at_ms]


def test_copies_of_one_source_are_one_record_the_first_kept() -> None:
    rows = [_stored("router", 200, 3), _stored("router", 200, 2), _stored("edge", 502, 1)]
    assert len(rows[0]) == len(USAGE_ROW_SELECT) + len(DETAIL_EXTRA_SELECT)
    records = to_request_records(rows)
    assert [(r.source, r.row.status_code, r.inserted_at_ms) for r in records] == [
        ("router", 200, 3),
        ("edge", 502, 1),
    ]
    assert (records[0].router_id, records[0].key_name, records[0].upstream_latency_ms) == (
        "router-1",
        "app",
        9.5,
    )
