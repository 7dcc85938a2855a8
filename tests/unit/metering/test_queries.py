"""The summary's SQL takes exactly the choices the contract publishes (admin refuses anything
else before asking): every dimension, bucket and order builds a query, and any other value is
a QueryError, never SQL."""

from __future__ import annotations

import itertools

import pytest

from tollway_common.contract import (
    SUMMARY_BUCKETS,
    SUMMARY_DIMENSIONS,
    SUMMARY_ORDERS,
    SummaryQuery,
)
from tollway_metering.queries import MAX_ROWS, QueryError, summary_sql

TABLE = "tollway.usage_requests"


@pytest.mark.parametrize(
    ("group_by", "bucket", "order_by"),
    list(itertools.product(("", *SUMMARY_DIMENSIONS), ("", *SUMMARY_BUCKETS), SUMMARY_ORDERS)),
)
def test_every_published_choice_builds_a_summary(group_by: str, bucket: str, order_by: str) -> None:
    sql, parameters = summary_sql(
        TABLE, SummaryQuery(group_by=group_by, bucket=bucket, order_by=order_by)
    )
    assert "ORDER BY" in sql
    assert parameters == {"limit": 1000}


@pytest.mark.parametrize(
    ("field", "value"),
    [("group_by", "request_id"), ("bucket", "week"), ("order_by", "latency"), ("order_by", "")],
)
def test_a_choice_the_contract_does_not_publish_is_refused(field: str, value: str) -> None:
    with pytest.raises(QueryError, match=f"^{field} must be one of"):
        summary_sql(TABLE, SummaryQuery.model_validate({field: value}))


def test_the_summary_limit_is_clamped_to_the_warehouse_maximum() -> None:
    assert summary_sql(TABLE, SummaryQuery(limit=MAX_ROWS + 1))[1]["limit"] == MAX_ROWS
