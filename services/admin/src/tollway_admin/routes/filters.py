"""The filters admin's read routes take as query parameters, declared and checked once: the
request log (`routes/requests.py`) takes who, what and when; usage summaries, burn-down and
exports (`routes/usage.py`) add the pool credential and errors only, and the summary its
grouping, order and row limit; the audit log and its export take when, who and what changed.
A value out of range is a 400 naming the parameter, before any question reaches metering."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Query

from tollway_common.contract import (
    AuditQuery,
    SummaryBucket,
    SummaryDimension,
    SummaryOrder,
    UsageFilter,
)

MAX_NAME_CHARS = 200
# Unix ms; 2**53 keeps a value exact in JSON and far inside ClickHouse's Int64.
MAX_MILLIS = 2**53
# Rows of one summary or one audit page; a longer answer is an export's job.
MAX_PAGE_ROWS = 10_000
# Audit pages skip `offset` events in the warehouse; deeper than this, narrow by time instead.
MAX_AUDIT_OFFSET = 1_000_000

_Name = Annotated[str, Query(max_length=MAX_NAME_CHARS)]
_Millis = Annotated[int, Query(ge=0, le=MAX_MILLIS)]
PageRows = Annotated[int, Query(ge=1, le=MAX_PAGE_ROWS)]
AuditOffset = Annotated[int, Query(ge=0, le=MAX_AUDIT_OFFSET)]
# The summary's choices are the contract's (empty: no grouping, no time buckets), so a value
# metering would refuse is a 400 here (a Literal inside a Literal flattens into one list).
GroupBy = Literal["", SummaryDimension]
Bucket = Literal["", SummaryBucket]
OrderBy = SummaryOrder


def _request_log_filter(
    since_ms: _Millis = 0,
    until_ms: _Millis = 0,
    key_id: _Name = "",
    user_id: _Name = "",
    team_id: _Name = "",
    org_id: _Name = "",
    model_alias: _Name = "",
    provider: _Name = "",
    deployment: _Name = "",
) -> UsageFilter:
    return UsageFilter(
        since_ms=since_ms,
        until_ms=until_ms,
        key_id=key_id,
        user_id=user_id,
        team_id=team_id,
        org_id=org_id,
        model_alias=model_alias,
        provider=provider,
        deployment=deployment,
    )


RequestLogFilter = Annotated[UsageFilter, Depends(_request_log_filter)]


def _usage_row_filter(
    base: RequestLogFilter, credential: _Name = "", errors_only: bool = False
) -> UsageFilter:
    return base.model_copy(update={"credential": credential, "errors_only": errors_only})


UsageRowFilter = Annotated[UsageFilter, Depends(_usage_row_filter)]


def _audit_filter(
    since_ms: _Millis = 0,
    until_ms: _Millis = 0,
    actor_id: _Name = "",
    action: _Name = "",
    resource_type: _Name = "",
    resource_id: _Name = "",
) -> AuditQuery:
    return AuditQuery(
        since_ms=since_ms,
        until_ms=until_ms,
        actor_id=actor_id,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
    )


AuditFilter = Annotated[AuditQuery, Depends(_audit_filter)]
