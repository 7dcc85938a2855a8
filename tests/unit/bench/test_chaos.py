"""Which fault each answer and each orphan row of the chaos run is counted against."""

from __future__ import annotations

from decimal import Decimal

from bench.balance import Fault, Row
from bench.chaos import _cut_by, _windows
from bench.outcome import Answer, Judged, Verdict

_FAULTS = [Fault("edge", 10.0, 12.0), Fault("router", 20.0, 22.0)]


def _ended(at: float) -> Judged:
    return Judged(Answer("chat", False, at - 1.0, at), Verdict.OK)


def test_an_answer_counts_for_the_last_kill_before_it_ended() -> None:
    answers = [_ended(5.0), _ended(10.5), _ended(19.0), _ended(25.0)]
    windows = _windows(answers, _FAULTS)
    assert [(name, [j.answer.ended for j in inside]) for name, _, inside in windows] == [
        ("baseline", [5.0]),
        ("edge", [10.5, 19.0]),
        ("router", [25.0]),
    ]


def test_a_row_no_client_saw_counts_for_the_first_kill_after_it_was_received() -> None:
    def row(received_at: float) -> Row:
        return Row("r", received_at, 200, False, 1, 1, Decimal(0))

    assert [_cut_by(row(at), _FAULTS) for at in (9.9, 15.0, 30.0)] == [1, 2, 2]
