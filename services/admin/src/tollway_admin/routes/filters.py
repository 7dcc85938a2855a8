"""The usage filter admin's read routes take as query parameters, declared and checked once: the
request log (`routes/requests.py`) takes who, what and when; usage summaries, burn-down and
exports (`routes/usage.py`) add the pool credential and errors only. A value out of range is a
400 naming the parameter, before any question reaches metering."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from tollway_common.contract import UsageFilter

_Name = Annotated[str, Query(max_length=200)]
# Unix ms; 2**53 keeps a value exact in JSON and far inside ClickHouse's Int64.
_Millis = Annotated[int, Query(ge=0, le=2**53)]


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
