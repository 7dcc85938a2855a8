"""The SQL behind each analytics question, built from typed queries with bound parameters
(never formatted user input). Exact totals read the deduplicated raw table (FINAL)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tollway_common.contract import (
    SUMMARY_BUCKETS,
    SUMMARY_DIMENSIONS,
    SUMMARY_ORDERS,
    AuditQuery,
    SummaryQuery,
    UsageEvent,
    UsageFilter,
)

MAX_ROWS = 100_000
# Keyed by the contract's SUMMARY_BUCKETS and SUMMARY_ORDERS (admin checks against those).
_BUCKETS = {"minute": "toStartOfMinute", "hour": "toStartOfHour", "day": "toStartOfDay"}
_ORDERS = {
    "time": "bucket_ms, grp",
    "cost": "sum(cost) DESC, grp",
    "requests": "requests DESC, grp",
}
_FILTER_COLUMNS = (*SUMMARY_DIMENSIONS,)
# The SQL a dimension groups by, where it is not the column of that name.
_GROUP_EXPRESSIONS = {
    "credential": "if(credential = '', deployment, concat(deployment, '/', credential))",
}


class QueryError(ValueError):
    pass


def usage_where(flt: UsageFilter, parameters: dict[str, Any]) -> list[str]:
    clauses: list[str] = []
    if flt.since_ms:
        clauses.append("received_at >= fromUnixTimestamp64Milli({since_ms:Int64}, 'UTC')")
        parameters["since_ms"] = flt.since_ms
    if flt.until_ms:
        clauses.append("received_at < fromUnixTimestamp64Milli({until_ms:Int64}, 'UTC')")
        parameters["until_ms"] = flt.until_ms
    for column in _FILTER_COLUMNS:
        value = getattr(flt, column)
        if value:
            clauses.append(f"{column} = {{{column}:String}}")
            parameters[column] = value
    if flt.errors_only:
        clauses.append("status_code >= 400")
    return clauses


def stored_rows_sql(
    table: str, columns: Sequence[str], events: Sequence[UsageEvent]
) -> tuple[str, dict[str, Any]]:
    """The best stored row (highest `source_rank`) of each request in `events`. The orgs and
    the time range narrow the read to the parts and granules that can hold them (the table is
    ordered by org first and partitioned by month); the bloom filter on request_id does the
    rest."""
    parameters: dict[str, Any] = {
        "ids": sorted({event.request_id for event in events}),
        "orgs": sorted({event.principal.org_id for event in events}),
        "since_ms": min(event.received_at_ms for event in events),
        "until_ms": max(event.received_at_ms for event in events),
    }
    sql = f"""
        SELECT {", ".join(columns)} FROM {table}
        WHERE org_id IN {{orgs:Array(String)}}
          AND received_at >= fromUnixTimestamp64Milli({{since_ms:Int64}}, 'UTC')
          AND received_at <= fromUnixTimestamp64Milli({{until_ms:Int64}}, 'UTC')
          AND request_id IN {{ids:Array(String)}}
        ORDER BY request_id, source_rank DESC
        LIMIT 1 BY request_id
    """
    return sql, parameters


def summary_sql(table: str, query: SummaryQuery) -> tuple[str, dict[str, Any]]:
    if query.group_by and query.group_by not in SUMMARY_DIMENSIONS:
        raise QueryError(f"group_by must be one of {', '.join(SUMMARY_DIMENSIONS)}")
    if query.bucket and query.bucket not in SUMMARY_BUCKETS:
        raise QueryError(f"bucket must be one of {', '.join(SUMMARY_BUCKETS)}")
    if query.order_by not in SUMMARY_ORDERS:
        raise QueryError(f"order_by must be one of {', '.join(SUMMARY_ORDERS)}")
    parameters: dict[str, Any] = {"limit": max(0, min(query.limit, MAX_ROWS))}
    bucket = (
        f"toUnixTimestamp64Milli(toDateTime64({_BUCKETS[query.bucket]}(received_at), 3, 'UTC'))"
        if query.bucket
        else "toInt64(0)"
    )
    group = _GROUP_EXPRESSIONS.get(query.group_by, query.group_by) or "''"
    where = usage_where(query.filter, parameters)
    sql = f"""
        SELECT
            {bucket} AS bucket_ms,
            {group} AS grp,
            count() AS requests,
            countIf(status_code >= 400) AS errors,
            sum(prompt_tokens) AS prompt_tokens,
            sum(completion_tokens) AS completion_tokens,
            sum(cached_read_tokens) AS cached_read_tokens,
            toString(sum(toDecimal128(cost, 9))) AS cost_text,
            any(currency) AS currency,
            countIf(unpriced) AS unpriced_requests,
            quantilesExact(0.5, 0.95, 0.99)(latency_ms) AS latency,
            quantilesExactIf(0.5, 0.95, 0.99)(assumeNotNull(ttft_ms), ttft_ms IS NOT NULL) AS ttft,
            countIf(ttft_ms IS NOT NULL) AS with_ttft
        FROM {table} FINAL
        {"WHERE " + " AND ".join(where) if where else ""}
        GROUP BY bucket_ms, grp
        ORDER BY {_ORDERS[query.order_by]}
        LIMIT {{limit:UInt32}}
    """
    return sql, parameters


def audit_sql(table: str, query: AuditQuery) -> tuple[str, dict[str, Any]]:
    parameters: dict[str, Any] = {
        "limit": max(0, min(query.limit, MAX_ROWS)),
        "offset": max(0, query.offset),
    }
    clauses: list[str] = []
    if query.since_ms:
        clauses.append("at >= fromUnixTimestamp64Milli({since_ms:Int64}, 'UTC')")
        parameters["since_ms"] = query.since_ms
    if query.until_ms:
        clauses.append("at < fromUnixTimestamp64Milli({until_ms:Int64}, 'UTC')")
        parameters["until_ms"] = query.until_ms
    for column in ("actor_id", "action", "resource_type", "resource_id"):
        value = getattr(query, column)
        if value:
            clauses.append(f"{column} = {{{column}:String}}")
            parameters[column] = value
    sql = f"""
        SELECT event_id, toUnixTimestamp64Milli(at), actor_kind, actor_id, actor_roles, action,
               resource_type, resource_id, before, after
        FROM {table} FINAL
        {"WHERE " + " AND ".join(clauses) if clauses else ""}
        ORDER BY at DESC, event_id
        LIMIT {{limit:UInt32}} OFFSET {{offset:UInt32}}
    """
    return sql, parameters
