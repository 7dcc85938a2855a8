"""UsageEvent -> `usage_requests` row, and a stored row -> UsageRow (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from tollway_common.contract import (
    Alert,
    AuditEvent,
    BodyEvent,
    Principal,
    UsageEvent,
    UsageRow,
    UsageSource,
)
from tollway_metering.charges import Charge

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
    "cached_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost",
    "currency",
    "price_version",
    "unpriced",
    "upstream_latency_ms",
    "retries",
    "fallbacks",
    "client_ip_hash",
    "user_agent",
    "trace_id",
    "served_model",
    "credential",
    "attempts",
    "images",
    "audio_seconds",
    "characters",
    "batch_id",
    "estimated_cost",
)
USAGE_INDEX = {name: index for index, name in enumerate(USAGE_COLUMNS)}

# Which row of a request ReplacingMergeTree keeps: the one that knows most. The edge's estimate
# (the router was lost), the router's real usage, or both merged (reconcile.py): the router's
# charge with the status the edge saw its client get, or the router's event corrected when its
# answer found no edge (`client_cut`).
RANK_EDGE, RANK_ROUTER, RANK_MERGED = 1, 2, 3
SOURCE_RANK = {UsageSource.ROUTER: RANK_ROUTER, UsageSource.EDGE: RANK_EDGE}
MERGED_SOURCE = "router+edge"

# What `usage_retractions` takes of a replaced row: what the rollups sum and group by.
RETRACTION_COLUMNS: tuple[str, ...] = (
    "request_id",
    "received_at",
    "key_id",
    "team_id",
    "org_id",
    "model_alias",
    "provider",
    "status_code",
    "prompt_tokens",
    "completion_tokens",
    "cost",
    "currency",
    "unpriced",
)

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
    "user_id",
    "team_id",
    "org_id",
    "cached_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "toString(cost) AS cost",
    "currency",
    "price_version",
    "unpriced",
    "upstream_model",
    "error_code",
    "served_model",
    "credential",
    "attempts",
    "retries",
    "fallbacks",
    "trace_id",
    "images",
    "audio_seconds",
    "characters",
    "batch_id",
    "toString(estimated_cost) AS estimated_cost",
)

_UINT16_MAX = 2**16 - 1
_UINT32_MAX = 2**32 - 1


def _clamp(value: int, high: int) -> int:
    # An out-of-range number would make ClickHouse reject the whole batch on every redelivery.
    return max(0, min(value, high))


def ms_to_datetime(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


_UINT8_MAX = 2**8 - 1


def usage_row(event: UsageEvent, charge: Charge) -> list[Any]:
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
        MERGED_SOURCE if event.client_cut else event.source.value,
        RANK_MERGED if event.client_cut else SOURCE_RANK[event.source],
        _clamp(event.cached_read_tokens, _UINT32_MAX),
        _clamp(event.cache_write_tokens, _UINT32_MAX),
        _clamp(event.reasoning_tokens, _UINT32_MAX),
        charge.cost,
        charge.currency,
        charge.price_version,
        charge.unpriced,
        event.upstream_latency_ms,
        _clamp(event.retries, _UINT8_MAX),
        _clamp(event.fallbacks, _UINT8_MAX),
        event.client.ip_hash,
        event.client.user_agent,
        event.trace_id,
        event.served_model,
        event.credential,
        list(event.attempts),
        _clamp(event.images, _UINT32_MAX),
        max(0.0, event.audio_seconds),
        _clamp(event.characters, _UINT32_MAX),
        event.batch_id,
        charge.estimated_cost,
    ]


def retraction_row(row: Sequence[Any]) -> list[Any]:
    """A stored row (in `USAGE_COLUMNS` order) as `usage_retractions` takes it."""
    return [row[USAGE_INDEX[name]] for name in RETRACTION_COLUMNS]


AUDIT_COLUMNS: tuple[str, ...] = (
    "event_id",
    "at",
    "actor_kind",
    "actor_id",
    "actor_roles",
    "action",
    "resource_type",
    "resource_id",
    "before",
    "after",
)


def audit_row(event: AuditEvent) -> list[Any]:
    def as_json(record: dict[str, Any] | None) -> str:
        return "" if record is None else orjson.dumps(record, option=orjson.OPT_SORT_KEYS).decode()

    return [
        event.event_id,
        ms_to_datetime(event.at_ms),
        event.actor.kind,
        event.actor.id,
        list(event.actor.roles),
        event.action,
        event.resource_type,
        event.resource_id,
        as_json(event.before),
        as_json(event.after),
    ]


BODY_COLUMNS: tuple[str, ...] = (
    "request_id",
    "received_at",
    "key_id",
    "user_id",
    "team_id",
    "org_id",
    "model_alias",
    "endpoint",
    "stream",
    "status_code",
    "request_body",
    "response_body",
    "request_truncated",
    "response_truncated",
    "redactions",
)


def body_row(event: BodyEvent) -> list[Any]:
    principal = event.principal
    return [
        event.request_id,
        ms_to_datetime(event.received_at_ms),
        principal.key_id,
        principal.user_id,
        principal.team_id,
        principal.org_id,
        event.model_alias,
        event.endpoint.value,
        event.stream,
        _clamp(event.status_code, _UINT16_MAX),
        event.request_body,
        event.response_body,
        event.request_truncated,
        event.response_truncated,
        {rule: _clamp(count, _UINT32_MAX) for rule, count in event.redactions.items()},
    ]


# What `query_bodies` selects, in the order `to_body_event` reads.
BODY_SELECT: tuple[str, ...] = (
    "request_id",
    "toUnixTimestamp64Milli(received_at)",
    "key_id",
    "user_id",
    "team_id",
    "org_id",
    "model_alias",
    "endpoint",
    "stream",
    "status_code",
    "request_body",
    "response_body",
    "request_truncated",
    "response_truncated",
    "redactions",
)


def to_body_event(values: Sequence[Any]) -> BodyEvent:
    (request_id, at_ms, key_id, user_id, team_id, org_id, *rest) = values
    (model, endpoint, stream, status, request, response, req_cut, resp_cut, redactions) = rest
    return BodyEvent(
        request_id=request_id,
        received_at_ms=int(at_ms),
        principal=Principal(key_id=key_id, user_id=user_id, team_id=team_id, org_id=org_id),
        model_alias=model,
        endpoint=endpoint,
        stream=bool(stream),
        status_code=int(status),
        request_body=request,
        response_body=response,
        request_truncated=bool(req_cut),
        response_truncated=bool(resp_cut),
        redactions={str(rule): int(count) for rule, count in dict(redactions).items()},
    )


ALERT_COLUMNS: tuple[str, ...] = (
    "alert_id",
    "at",
    "kind",
    "message",
    "owner",
    "budget_id",
    "period_start",
    "limit_amount",
    "spent",
    "currency",
    "model_alias",
)

_MONEY_PLACES = Decimal("0.000000001")
_MONEY_MAX = Decimal("999999999")


def _money(text: str) -> Decimal:
    """An alert's amount as Decimal(18, 9); anything unreadable is 0, never a failed batch."""
    try:
        value = Decimal(text or "0").quantize(_MONEY_PLACES)
    except InvalidOperation:
        return Decimal(0)
    return value if value.is_finite() and abs(value) <= _MONEY_MAX else Decimal(0)


def alert_row(alert: Alert) -> list[Any]:
    return [
        alert.alert_id,
        ms_to_datetime(alert.at_ms),
        alert.kind.value,
        alert.message,
        alert.owner,
        alert.budget_id,
        datetime.fromtimestamp(max(0, min(alert.period_start, _UINT32_MAX)), tz=UTC),
        _money(alert.limit),
        _money(alert.spent),
        alert.currency,
        alert.model,
    ]


def to_usage_row(values: Sequence[Any]) -> UsageRow:
    """A result row selected with `USAGE_ROW_SELECT` -> UsageRow."""
    return UsageRow(**dict(zip(UsageRow.model_fields, values, strict=True)))
