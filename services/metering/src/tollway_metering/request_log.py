"""The SQL behind the request log and the records read back (pure; `warehouse.py` runs it): a
page of recent requests, newest first, and every stored event and body of one request. Built
from typed queries with bound parameters, never formatted user input, like `queries.py`, whose
filter it shares."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from tollway_common.contract import (
    REQUEST_STATUS_CLASSES,
    RequestDetailQuery,
    RequestLogQuery,
    RequestRecord,
)
from tollway_common.ids import REQUEST_ID_PATTERN
from tollway_metering.queries import QueryError, usage_where
from tollway_metering.rows import BODY_SELECT, USAGE_ROW_SELECT, to_usage_row

MAX_PAGE_ROWS = 500
# Every copy of a request's events: the router's, the edge's estimate, and redeliveries not yet
# merged away (the detail view shows one per source).
MAX_DETAIL_ROWS = 20
_CODE = re.compile(r"^[1-5][0-9]{2}\Z")
_CLASS_RANGES = {
    "ok": (200, 299),
    "error": (400, 599),
    "2xx": (200, 299),
    "3xx": (300, 399),
    "4xx": (400, 499),
    "5xx": (500, 599),
}

# What the detail selects after the UsageRow columns, in RequestRecord field order.
DETAIL_EXTRA_SELECT: tuple[str, ...] = (
    "source",
    "router_id",
    "key_name",
    "upstream_latency_ms",
    "toUnixTimestamp64Milli(inserted_at)",
)


def _check_request_id(request_id: str) -> None:
    if not REQUEST_ID_PATTERN.match(request_id):
        raise QueryError("a request id holds 1-128 letters, digits and . _ : -")


def status_clause(status: str, parameters: dict[str, Any]) -> str | None:
    """The WHERE clause for a status filter: a class (`4xx`, `error`, ...) or one code.

    Raises:
        QueryError: anything else.
    """
    if not status:
        return None
    if status in _CLASS_RANGES:
        parameters["status_low"], parameters["status_high"] = _CLASS_RANGES[status]
        return "status_code BETWEEN {status_low:UInt16} AND {status_high:UInt16}"
    if _CODE.match(status):
        parameters["status_code"] = int(status)
        return "status_code = {status_code:UInt16}"
    raise QueryError(
        f"status must be a code like 429 or one of {', '.join(REQUEST_STATUS_CLASSES)}"
    )


def request_log_sql(table: str, query: RequestLogQuery) -> tuple[str, dict[str, Any]]:
    """One page of requests in `query.filter`, newest first, after the `before` cursor."""
    if not 1 <= query.limit <= MAX_PAGE_ROWS:
        raise QueryError(f"limit must be between 1 and {MAX_PAGE_ROWS}")
    parameters: dict[str, Any] = {"limit": query.limit}
    where = usage_where(query.filter, parameters)
    status = status_clause(query.status, parameters)
    if status:
        where.append(status)
    if query.request_id_prefix:
        if not REQUEST_ID_PATTERN.match(query.request_id_prefix):
            raise QueryError("request_id holds only letters, digits and . _ : -")
        where.append("startsWith(request_id, {id_prefix:String})")
        parameters["id_prefix"] = query.request_id_prefix
    if query.before_ms or query.before_request_id:
        where.append(
            "(received_at, request_id) < "
            "(fromUnixTimestamp64Milli({before_ms:Int64}, 'UTC'), {before_id:String})"
        )
        parameters.update(before_ms=query.before_ms, before_id=query.before_request_id)
    sql = f"""
        SELECT {", ".join(USAGE_ROW_SELECT)}
        FROM {table} FINAL
        {"WHERE " + " AND ".join(where) if where else ""}
        ORDER BY received_at DESC, request_id DESC
        LIMIT {{limit:UInt32}}
    """
    return sql, parameters


def request_detail_sql(table: str, query: RequestDetailQuery) -> tuple[str, dict[str, Any]]:
    """Every stored event of one request within the reader's scope (no FINAL: the edge's
    estimate beside the router's row is part of what happened), the billed one first."""
    _check_request_id(query.request_id)
    parameters: dict[str, Any] = {"request_id": query.request_id, "limit": MAX_DETAIL_ROWS}
    where = ["request_id = {request_id:String}", *usage_where(query.filter, parameters)]
    sql = f"""
        SELECT {", ".join((*USAGE_ROW_SELECT, *DETAIL_EXTRA_SELECT))}
        FROM {table}
        WHERE {" AND ".join(where)}
        ORDER BY source_rank DESC, inserted_at DESC
        LIMIT {{limit:UInt32}}
    """
    return sql, parameters


def to_request_records(result_rows: Sequence[Sequence[Any]]) -> list[RequestRecord]:
    """Rows selected by `request_detail_sql` -> one RequestRecord per source: identical copies
    a redelivery inserted (not yet merged away) are one event, shown once."""
    records: dict[str, RequestRecord] = {}
    width = len(USAGE_ROW_SELECT)
    for values in result_rows:
        source, router_id, key_name, upstream_latency_ms, inserted_at_ms = values[width:]
        records.setdefault(
            str(source),
            RequestRecord(
                source=str(source),
                row=to_usage_row(values[:width]),
                router_id=str(router_id),
                key_name=str(key_name),
                upstream_latency_ms=upstream_latency_ms,
                inserted_at_ms=int(inserted_at_ms),
            ),
        )
    return list(records.values())


# The reader's scope as the bodies table can apply it: it has the principal, not the route.
_BODY_SCOPE_COLUMNS = ("key_id", "user_id", "team_id", "org_id")


def request_bodies_sql(table: str, query: RequestDetailQuery) -> tuple[str, dict[str, Any]]:
    """The stored (redacted) bodies of one request within the reader's scope."""
    _check_request_id(query.request_id)
    parameters: dict[str, Any] = {"request_id": query.request_id}
    where = ["request_id = {request_id:String}"]
    for column in _BODY_SCOPE_COLUMNS:
        value = getattr(query.filter, column)
        if value:
            where.append(f"{column} = {{{column}:String}}")
            parameters[column] = value
    sql = f"""
        SELECT {", ".join(BODY_SELECT)}
        FROM {table} FINAL
        WHERE {" AND ".join(where)}
        ORDER BY received_at
        LIMIT 1
    """
    return sql, parameters
