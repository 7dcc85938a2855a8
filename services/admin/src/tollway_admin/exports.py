"""Usage and audit exports: CSV, JSON lines and the FinOps FOCUS columns, one line at a time
so an export of any size streams."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime

import orjson

from tollway_common.contract import AuditEvent, UsageRow

USAGE_CSV_COLUMNS: tuple[str, ...] = tuple(UsageRow.model_fields)
FOCUS_COLUMNS: tuple[str, ...] = (
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "BillingCurrency",
    "ChargeCategory",
    "ChargeDescription",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ConsumedQuantity",
    "ConsumedUnit",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "ServiceName",
    "ServiceCategory",
    "ResourceId",
    "ResourceName",
    "SubAccountId",
    "SubAccountName",
    "Tags",
)


# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection");
# model aliases, key names and metadata are written by users.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_line(values: Sequence[object]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([_cell(v) for v in values])
    return buffer.getvalue().encode()


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _iso(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def focus_values(row: UsageRow) -> list[object]:
    """One request as one FOCUS usage charge (tokens consumed, cost billed)."""
    tags = orjson.dumps(
        {
            "tollway.key_id": row.key_id,
            "tollway.user_id": row.user_id,
            "tollway.org_id": row.org_id,
            "tollway.credential": row.credential,
            "tollway.request_id": row.request_id,
            "tollway.unpriced": row.unpriced,
        }
    ).decode()
    return [
        row.cost,
        row.cost,
        row.cost,
        row.currency,
        "Usage",
        f"{row.endpoint} on {row.model_alias}",
        _iso(row.received_at_ms),
        _iso(row.received_at_ms + max(1, int(row.latency_ms))),
        row.total_tokens,
        "Tokens",
        row.total_tokens,
        "Tokens",
        row.provider,
        row.provider,
        "Tollway LLM gateway",
        "AI and Machine Learning",
        row.deployment,
        row.model_alias,
        row.team_id,
        row.team_id,
        tags,
    ]


async def usage_csv(rows: AsyncIterator[UsageRow]) -> AsyncIterator[bytes]:
    yield csv_line(USAGE_CSV_COLUMNS)
    async for row in rows:
        yield csv_line([getattr(row, column) for column in USAGE_CSV_COLUMNS])


async def usage_jsonl(rows: AsyncIterator[UsageRow]) -> AsyncIterator[bytes]:
    async for row in rows:
        yield orjson.dumps(row.model_dump(mode="json")) + b"\n"


async def usage_focus(rows: AsyncIterator[UsageRow]) -> AsyncIterator[bytes]:
    yield csv_line(FOCUS_COLUMNS)
    async for row in rows:
        yield csv_line(focus_values(row))


async def audit_jsonl(events: Iterable[AuditEvent]) -> AsyncIterator[bytes]:
    for event in events:
        yield orjson.dumps(event.model_dump(mode="json")) + b"\n"


AUDIT_CSV_COLUMNS = (
    "at",
    "actor_kind",
    "actor_id",
    "action",
    "resource_type",
    "resource_id",
    "before",
    "after",
    "event_id",
)


def audit_csv_values(event: AuditEvent) -> list[object]:
    """One audit event as CSV cells: the time in ISO 8601 (UTC), the records as JSON."""
    at = datetime.fromtimestamp(event.at_ms / 1000, UTC).isoformat(timespec="milliseconds")
    records = [
        None if record is None else orjson.dumps(record, option=orjson.OPT_SORT_KEYS).decode()
        for record in (event.before, event.after)
    ]
    return [
        at.replace("+00:00", "Z"),
        event.actor.kind,
        event.actor.id,
        event.action,
        event.resource_type,
        event.resource_id,
        *records,
        event.event_id,
    ]


async def audit_csv(events: Iterable[AuditEvent]) -> AsyncIterator[bytes]:
    yield csv_line(AUDIT_CSV_COLUMNS)
    for event in events:
        yield csv_line(audit_csv_values(event))
