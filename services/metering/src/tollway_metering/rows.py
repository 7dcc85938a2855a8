"""UsageEvent -> `usage_requests` row, and a stored row -> UsageRow (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from tollway_common.contract import UsageEvent, UsageRow, UsageSource

# Insert order of `usage_requests`; `inserted_at` is left to its DEFAULT now64(3).
USAGE_COLUMNS: tuple[str, ...] = (
    "request_id",
    "received_at",
    "key_id",
    "key_name",
    "user_id",
    "team_id",
    "org_id",
    "model_alias",
    "deployment",
    "provider",
    "upstream_model",
    "endpoint",
    "status_code",
    "error_type",
    "error_code",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "usage_estimated",
    "latency_ms",
    "ttft_ms",
    "stream",
    "router_id",
    "source",
    "source_rank",
)

# Which event of a request ReplacingMergeTree keeps: the router's real usage over the edge's
# estimate.
SOURCE_RANK = {UsageSource.ROUTER: 2, UsageSource.EDGE: 1}

# What `query_usage` selects, in UsageRow field order.
USAGE_ROW_SELECT: tuple[str, ...] = (
    "request_id",
    "toUnixTimestamp64Milli(received_at) AS received_at_ms",
    "key_id",
    "model_alias",
    "deployment",
    "provider",
    "endpoint",
    "status_code",
    "error_type",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "latency_ms",
    "ttft_ms",
    "stream",
    "usage_estimated",
)

_UINT16_MAX = 2**16 - 1
_UINT32_MAX = 2**32 - 1


def _clamp(value: int, high: int) -> int:
    # An out-of-range number would make ClickHouse reject the whole batch on every redelivery.
    return max(0, min(value, high))


def ms_to_datetime(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


def usage_row(event: UsageEvent) -> list[Any]:
    """One row in `USAGE_COLUMNS` order; every copy of an event gives the same row."""
    principal = event.principal
    return [
        event.request_id,
        ms_to_datetime(event.received_at_ms),
        principal.key_id,
        principal.key_name,
        principal.user_id,
        principal.team_id,
        principal.org_id,
        event.model_alias,
        event.deployment,
        event.provider,
        event.upstream_model,
        event.endpoint.value,
        _clamp(event.status_code, _UINT16_MAX),
        event.error_type,
        event.error_code,
        _clamp(event.prompt_tokens, _UINT32_MAX),
        _clamp(event.completion_tokens, _UINT32_MAX),
        _clamp(event.total_tokens, _UINT32_MAX),
        event.usage_estimated,
        event.latency_ms,
        event.ttft_ms,
        event.stream,
        event.router_id,
        event.source.value,
        SOURCE_RANK[event.source],
    ]


def usage_rows(events: Sequence[UsageEvent]) -> list[list[Any]]:
    return [usage_row(event) for event in events]


def to_usage_row(values: Sequence[Any]) -> UsageRow:
    """A result row selected with `USAGE_ROW_SELECT` -> UsageRow."""
    return UsageRow(**dict(zip(UsageRow.model_fields, values, strict=True)))
