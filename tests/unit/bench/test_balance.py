"""The chaos report's arithmetic: when a failure happened relative to its fault, and the bill
against the answers request id by request id."""

from __future__ import annotations

from decimal import Decimal

from bench.balance import (
    Fault,
    Rollup,
    Row,
    client_report,
    metering_report,
    orphan_rows,
    warehouse_report,
)
from bench.outcome import Answer, Judged, Verdict

_FAULT = Fault("router", killed_at=100.0, ready_at=105.0)


def _judged(
    request_id: str, verdict: Verdict, started: float = 90.0, ended: float = 91.0, tokens: int = 5
) -> Judged:
    answer = Answer("chat", True, started, ended, 200, request_id, b"", True)
    return Judged(answer, verdict, tokens, tokens)


def _row(
    request_id: str,
    status: int = 200,
    tokens: int = 5,
    usage_estimated: bool = False,
    cost: Decimal = Decimal("0.001"),
    raw_copies: int = 1,
) -> Row:
    return Row(request_id, 100.0, status, usage_estimated, tokens, tokens, cost, raw_copies)


def test_failures_are_told_apart_by_when_they_started() -> None:
    answers = [
        _judged("a", Verdict.ERROR_EVENT, started=99.0, ended=104.0),
        _judged("b", Verdict.ERROR_BODY, started=101.0, ended=101.1),
        _judged("c", Verdict.ERROR_BODY, started=106.0, ended=106.1),
        _judged("d", Verdict.OK, started=107.0, ended=107.5),
    ]
    report = client_report(answers, _FAULT)
    assert (report["in_flight"], report["in_outage"], report["after_recovery"]) == (1, 1, 1)
    assert (report["errors"], report["ok"], report["restart_s"]) == (3, 1, 5.0)
    assert report["errors_ended_until_s"] == 6.1
    assert report["in_flight_stream_end_max_s"] == 4.0


def test_every_answer_with_one_row_of_the_same_tokens_balances() -> None:
    answers = [_judged("a", Verdict.OK), _judged("b", Verdict.OK, tokens=7)]
    report = metering_report(answers, {"a": _row("a"), "b": _row("b", tokens=7)})
    assert (report["answered"], report["answered_with_one_row"]) == (2, 2)
    assert report["answered_without_row"] == report["answered_tokens_differ"] == 0


def test_a_missing_row_and_different_tokens_are_counted() -> None:
    answers = [_judged("a", Verdict.OK), _judged("b", Verdict.OK)]
    report = metering_report(answers, {"b": _row("b", tokens=9)})
    assert report["answered_without_row"] == 1
    assert report["answered_tokens_differ"] == 1
    assert report["examples"] == {"answered_without_row": ["a"], "tokens_differ": ["b"]}


def test_a_failed_request_billed_as_200_is_counted() -> None:
    answers = [_judged("a", Verdict.ERROR_EVENT), _judged("", Verdict.TRANSPORT)]
    report = metering_report(answers, {"a": _row("a", status=200)})
    assert (report["failed_with_request_id"], report["failed_rows_status_200"]) == (1, 1)
    assert report["failed_without_request_id"] == 1


def test_a_failed_request_priced_from_an_estimate_is_told_from_a_real_charge() -> None:
    answers = [_judged("a", Verdict.ERROR_EVENT), _judged("b", Verdict.CUT)]
    rows = {"a": _row("a", status=502), "b": _row("b", status=502, usage_estimated=True)}
    report = metering_report(answers, rows)
    assert (report["failed_rows_priced"], report["failed_rows_estimate_priced"]) == (2, 1)


def test_rows_no_client_saw_are_orphans() -> None:
    rows = {"a": _row("a"), "z": _row("z")}
    assert [row.request_id for row in orphan_rows(rows, {"a"})] == ["z"]


def test_the_warehouse_report_counts_priced_estimates_and_rollup_drift() -> None:
    rows = {
        "a": _row("a", usage_estimated=True),
        "b": _row("b", usage_estimated=True, cost=Decimal(0)),
        "c": _row("c", raw_copies=2),
    }
    rollup = Rollup(requests=4, prompt_tokens=20, completion_tokens=15, cost=Decimal("0.0025"))
    assert warehouse_report(rows, rollup) == {
        "billing_rows": 3,
        "ids_with_raw_duplicates": 1,
        "estimated_rows": 2,
        "estimated_rows_priced": 1,
        "rows_by_source": {"router": 3},
        "rollup_requests": 4,
        "rollup_minus_billing": 1,
        "rollup_tokens_minus_billing": 5,
        "rollup_cost_minus_billing": "0.0005",
    }
