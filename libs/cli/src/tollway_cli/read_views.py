"""The table form of each read command's answer (pure): which columns a key, model, request or
usage row shows, and how one request's page reads in a terminal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tollway_cli.output import Column, facts, field, record_facts, table, text, utc, utc_seconds


def _key_status(key: Mapping[str, Any]) -> str:
    if key.get("revoked_at"):
        return "revoked"
    return "active"


KEY_COLUMNS = (
    field("KEY ID", "key_id"),
    field("NAME", "name"),
    Column("STATUS", _key_status),
    field("TEAM", "team_id"),
    field("USER", "user_id"),
    field("PREFIX", "prefix"),
    Column("CREATED (UTC)", lambda key: utc_seconds(key.get("created_at"))),
    Column("EXPIRES (UTC)", lambda key: utc_seconds(key.get("expires_at"))),
)

MODEL_COLUMNS = (
    field("MODEL", "name"),
    Column("DEPLOYMENTS", lambda m: [d.get("name") for d in m.get("deployments", [])]),
    Column("PROVIDERS", lambda m: sorted({d.get("provider") for d in m.get("deployments", [])})),
    field("STRATEGY", "strategy"),
    field("FALLBACKS", "fallbacks"),
)


def _status(row: Mapping[str, Any]) -> str:
    code = row.get("error_code")
    return f"{row.get('status_code')} {code}" if code else str(row.get("status_code"))


def _cost(row: Mapping[str, Any]) -> str:
    if row.get("unpriced"):
        return "unpriced"
    return f"{row.get('cost')} {row.get('currency') or ''}".strip()


REQUEST_COLUMNS = (
    Column("WHEN (UTC)", lambda row: utc(row.get("received_at_ms"))),
    field("REQUEST ID", "request_id"),
    Column("STATUS", _status),
    field("MODEL", "model_alias"),
    field("KEY", "key_id"),
    field("DEPLOYMENT", "deployment"),
    Column("TOKENS IN/OUT", lambda r: f"{r.get('prompt_tokens')}/{r.get('completion_tokens')}"),
    Column("COST", _cost),
    Column("LATENCY MS", lambda row: row.get("latency_ms")),
)

_ATTEMPT_COLUMNS = (
    field("DEPLOYMENT", "deployment"),
    field("CREDENTIAL", "credential"),
    field("OUTCOME", "outcome"),
)
_EVENT_COLUMNS = (
    field("SOURCE", "source"),
    field("ROUTER", "router_id"),
    field("STATUS", "status_code"),
    field("ESTIMATED", "usage_estimated"),
    Column("STORED (UTC)", lambda event: utc(event.get("inserted_at_ms"))),
)


def keys_table(answer: Mapping[str, Any]) -> str:
    return table(answer.get("data", []), KEY_COLUMNS)


def key_facts(answer: Mapping[str, Any]) -> str:
    return record_facts(answer)


def models_table(answer: Mapping[str, Any]) -> str:
    return table(answer.get("data", []), MODEL_COLUMNS)


def requests_table(answer: Mapping[str, Any]) -> str:
    text_out = table(answer.get("data", []), REQUEST_COLUMNS)
    cursor = answer.get("next_cursor")
    return text_out + (f"more: add --cursor {cursor}\n" if cursor else "")


def usage_table(answer: Mapping[str, Any], group_by: str, bucketed: bool) -> str:
    columns = [
        *([Column("BUCKET (UTC)", lambda row: utc(row.get("bucket_ms")))] if bucketed else []),
        *([field(group_by.upper(), "group")] if group_by else []),
        field("REQUESTS", "requests"),
        field("ERRORS", "errors"),
        field("PROMPT TOKENS", "prompt_tokens"),
        field("COMPLETION TOKENS", "completion_tokens"),
        Column("COST", lambda row: f"{row.get('cost')} {row.get('currency') or ''}".strip()),
        field("P50 MS", "latency_p50_ms"),
        field("P95 MS", "latency_p95_ms"),
    ]
    return table(answer.get("data", []), columns)


def request_page(answer: Mapping[str, Any]) -> str:
    """One request: facts of the billed usage, then attempts, stored events and bodies."""
    usage: Mapping[str, Any] = answer.get("usage") or {}
    timings: Mapping[str, Any] = answer.get("timings") or {}
    parts = [
        facts(
            [
                ("request", answer.get("request_id")),
                ("when (UTC)", utc(usage.get("received_at_ms"))),
                ("status", _status(usage) if usage else None),
                ("endpoint", usage.get("endpoint")),
                ("stream", usage.get("stream")),
                ("model", usage.get("model_alias")),
                ("served by", usage.get("served_model")),
                ("deployment", usage.get("deployment")),
                ("credential", usage.get("credential")),
                ("provider", usage.get("provider")),
                ("key", usage.get("key_id")),
                ("team", usage.get("team_id")),
                ("user", usage.get("user_id")),
                ("tokens in", usage.get("prompt_tokens")),
                ("tokens out", usage.get("completion_tokens")),
                ("estimated", usage.get("usage_estimated")),
                ("cost", _cost(usage) if usage else None),
                ("latency ms", timings.get("latency_ms")),
                ("ttft ms", timings.get("ttft_ms")),
                ("upstream ms", timings.get("upstream_latency_ms")),
                ("retries", usage.get("retries")),
                ("fallbacks", usage.get("fallbacks")),
                ("trace", usage.get("trace_id")),
            ]
        )
    ]
    if answer.get("attempts"):
        parts.append("\nattempts\n" + table(answer["attempts"], _ATTEMPT_COLUMNS))
    if answer.get("events"):
        parts.append("\nstored usage events\n" + table(answer["events"], _EVENT_COLUMNS))
    body: Mapping[str, Any] | None = answer.get("body")
    if body:
        redactions = body.get("redactions") or {}
        parts.append(
            "\nrequest body (redacted"
            + (", cut" if body.get("request_truncated") else "")
            + ")\n"
            + str(body.get("request_body", ""))
            + "\n\nresponse body (redacted"
            + (", cut" if body.get("response_truncated") else "")
            + ")\n"
            + str(body.get("response_body", ""))
            + "\n"
            + (f"\nredactions: {text(redactions)}\n" if redactions else "")
        )
    else:
        parts.append("\nno bodies stored (the caller's policy does not log them)\n")
    return "".join(parts)
