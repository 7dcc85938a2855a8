"""The audit page's filter (from and to dates, action, actor, kind of record) to the query
metering answers, and back to the query string the page's downloads carry, so an export holds
exactly the rows the page lists. Pure; `pages/audit.py` asks and renders."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from tollway_admin.resources import ALL
from tollway_admin.ui.form_values import FieldErrors
from tollway_common.contract import AuditQuery

FILTER_FIELDS = ("from", "to", "action", "actor_id", "resource_type")
KINDS = (*(resource.kind for resource in ALL), "deployment_health")
# What admin records today; the field takes any action, these are the suggestions.
KNOWN_ACTIONS = (
    *(f"{resource.kind}.{verb}" for resource in ALL for verb in ("create", "update", "delete")),
    "deployment_health.disable",
    "deployment_health.enable",
)
_TOKEN = re.compile(r"^[A-Za-z0-9_.:@/-]{1,128}\Z")
PAGE_ROWS = 200


def _day(values: Mapping[str, str], field: str) -> date | None:
    value = values.get(field, "").strip()
    if not value:
        return None
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise FieldErrors({field: "a date as YYYY-MM-DD"})


def _millis(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def audit_query(values: Mapping[str, str], limit: int = PAGE_ROWS) -> AuditQuery:
    """The query for the filter's fields; `to` is inclusive (the whole day, UTC)."""
    errors: dict[str, str] = {}
    days: dict[str, date | None] = {}
    for field in ("from", "to"):
        try:
            days[field] = _day(values, field)
        except FieldErrors as exc:
            errors.update(exc.errors)
            days[field] = None
    since, until = days["from"], days["to"]
    if since is not None and until is not None and until < since:
        errors["to"] = "the last day comes on or after the first"
    tokens: dict[str, str] = {}
    for field in ("action", "actor_id", "resource_type"):
        value = values.get(field, "").strip()
        if value and not _TOKEN.match(value):
            errors[field] = "letters, digits and _ . : @ / - only, at most 128"
        tokens[field] = value
    if tokens["resource_type"] and tokens["resource_type"] not in KINDS:
        errors["resource_type"] = f"one of {', '.join(KINDS)}"
    if errors:
        raise FieldErrors(errors)
    return AuditQuery(
        since_ms=_millis(since) if since else 0,
        until_ms=_millis(until + timedelta(days=1)) if until else 0,
        limit=limit,
        **tokens,
    )


def filter_query_string(values: Mapping[str, str]) -> str:
    """The filter's fields that are set, as a query string for a link."""
    return urlencode({f: values[f].strip() for f in FILTER_FIELDS if values.get(f, "").strip()})
