"""The chaos report's arithmetic (pure; `chaos.py` gathers the inputs): what each fault cost the
clients and whether the bill matches what they got, request id by request id.

A fault window runs from one SIGKILL to the next. A failed request is "in flight" when it
started before the kill, "in the outage" when it started while the process was down (kill to
ready again), and "after recovery" otherwise: the last kind should never happen.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bench.outcome import Judged, Verdict


@dataclass(frozen=True)
class Fault:
    target: str
    killed_at: float
    # When the restarted process was ready again.
    ready_at: float


@dataclass(frozen=True)
class Row:
    """One request's row in the billing view (usage_requests FINAL)."""

    request_id: str
    received_at: float
    status_code: int
    usage_estimated: bool
    prompt_tokens: int
    completion_tokens: int
    cost: Decimal
    # How many raw rows (before ClickHouse merges duplicates) carry this id.
    raw_copies: int = 1
    # Whose event the row is: "router", "edge" (an estimate) or "router+edge" (merged).
    source: str = "router"


@dataclass(frozen=True)
class Rollup:
    """The per-minute rollup's totals over the whole run."""

    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost: Decimal


def client_report(answers: list[Judged], fault: Fault | None) -> dict[str, Any]:
    """Client-visible errors in a window, by verdict and by when they started."""
    failed = [judged for judged in answers if not judged.ok]
    report: dict[str, Any] = {
        "requests": len(answers),
        "ok": len(answers) - len(failed),
        "errors": len(failed),
        "by_verdict": dict(Counter(str(judged.verdict) for judged in failed)),
        "by_status": dict(Counter(str(judged.answer.status) for judged in failed)),
        "malformed": sum(1 for judged in failed if judged.verdict is Verdict.MALFORMED),
        "examples": [_example(judged, fault) for judged in failed[:3]],
    }
    if fault is None:
        return report
    when = Counter(_when(judged, fault) for judged in failed)
    report["in_flight"] = when["in_flight"]
    report["in_outage"] = when["in_outage"]
    report["after_recovery"] = when["after_recovery"]
    report["restart_s"] = round(fault.ready_at - fault.killed_at, 3)
    # The last failed request: when it started and when the client saw it end, after the kill.
    report["errors_started_until_s"] = (
        round(max(j.answer.started for j in failed) - fault.killed_at, 3) if failed else 0.0
    )
    report["errors_ended_until_s"] = (
        round(max(j.answer.ended for j in failed) - fault.killed_at, 3) if failed else 0.0
    )
    in_flight_streams = [
        j.answer.ended - fault.killed_at
        for j in failed
        if j.answer.stream and j.answer.started < fault.killed_at
    ]
    report["in_flight_stream_end_max_s"] = (
        round(max(in_flight_streams), 3) if in_flight_streams else 0.0
    )
    return report


def _example(judged: Judged, fault: Fault | None) -> dict[str, Any]:
    answer = judged.answer
    since = fault.killed_at if fault is not None else answer.started
    return {
        "kind": answer.kind,
        "verdict": str(judged.verdict),
        "status": answer.status,
        "started_s": round(answer.started - since, 3),
        "ended_s": round(answer.ended - since, 3),
        "tail": (answer.body[-240:].decode(errors="replace") or answer.transport_error),
    }


def _when(judged: Judged, fault: Fault) -> str:
    started = judged.answer.started
    if started < fault.killed_at:
        return "in_flight"
    if started < fault.ready_at:
        return "in_outage"
    return "after_recovery"


def metering_report(answers: list[Judged], rows: dict[str, Row]) -> dict[str, Any]:
    """The balance of a window's client-seen request ids against their billing rows."""
    answered = [judged for judged in answers if judged.ok]
    failed_with_id = [j for j in answers if not j.ok and j.answer.request_id]
    missing = [j.answer.request_id for j in answered if j.answer.request_id not in rows]
    billed = [(j, rows[j.answer.request_id]) for j in answered if j.answer.request_id in rows]
    wrong_tokens = [
        j.answer.request_id
        for j, row in billed
        if (row.prompt_tokens, row.completion_tokens) != (j.prompt_tokens, j.completion_tokens)
    ]
    failed_rows = [rows[j.answer.request_id] for j in failed_with_id if j.answer.request_id in rows]
    return {
        "answered": len(answered),
        "answered_with_one_row": len(billed),
        "answered_without_row": len(missing),
        "answered_rows_not_200": sum(1 for _, row in billed if row.status_code != 200),
        "answered_rows_estimated": sum(1 for _, row in billed if row.usage_estimated),
        "answered_tokens_differ": len(wrong_tokens),
        "failed_with_request_id": len(failed_with_id),
        "failed_rows": len(failed_rows),
        # A client that got an error but a row that says 200: billed as if it had succeeded.
        "failed_rows_status_200": sum(1 for row in failed_rows if row.status_code == 200),
        # Priced at the provider's charge (the router's usage): true, the provider billed it.
        "failed_rows_priced": sum(1 for row in failed_rows if row.cost > 0),
        # Priced from an estimate: never right.
        "failed_rows_estimate_priced": sum(
            1 for row in failed_rows if row.cost > 0 and row.usage_estimated
        ),
        "failed_without_request_id": sum(
            1 for j in answers if not j.ok and not j.answer.request_id
        ),
        "examples": {"answered_without_row": missing[:5], "tokens_differ": wrong_tokens[:5]},
    }


def orphan_rows(rows: dict[str, Row], seen_ids: set[str]) -> list[Row]:
    """Rows whose request id no client was ever given (its request was cut before the head)."""
    return [row for row in rows.values() if row.request_id not in seen_ids]


def warehouse_report(rows: dict[str, Row], rollup: Rollup) -> dict[str, Any]:
    estimated = [row for row in rows.values() if row.usage_estimated]
    billed = rows.values()
    billed_cost = sum((row.cost for row in billed), Decimal(0))
    return {
        "billing_rows": len(rows),
        "ids_with_raw_duplicates": sum(1 for row in billed if row.raw_copies > 1),
        "estimated_rows": len(estimated),
        "estimated_rows_priced": sum(1 for row in estimated if row.cost > 0),
        "rows_by_source": dict(Counter(row.source for row in billed)),
        "rollup_requests": rollup.requests,
        "rollup_minus_billing": rollup.requests - len(rows),
        "rollup_tokens_minus_billing": rollup.prompt_tokens
        + rollup.completion_tokens
        - sum(row.prompt_tokens + row.completion_tokens for row in billed),
        "rollup_cost_minus_billing": str(rollup.cost - billed_cost),
    }
