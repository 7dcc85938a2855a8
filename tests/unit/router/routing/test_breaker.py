from __future__ import annotations

from tollway_common.control import CircuitBreaker
from tollway_router.routing.breaker import Breaker, BreakerState

POLICY = CircuitBreaker(failure_rate=0.5, min_requests=4, window_s=10, open_s=30)


def _fail(breaker: Breaker, times: int, now: float) -> None:
    for _ in range(times):
        breaker.record(False, now)


def test_stays_closed_below_the_minimum_number_of_calls() -> None:
    breaker = Breaker(POLICY)
    _fail(breaker, 3, now=0)
    assert breaker.state(0) is BreakerState.CLOSED


def test_opens_at_the_failure_rate_and_refuses_calls_while_open() -> None:
    breaker = Breaker(POLICY)
    breaker.record(True, 0)
    breaker.record(True, 0)
    _fail(breaker, 2, now=1)
    assert breaker.state(1) is BreakerState.OPEN
    assert not breaker.allow(29)
    assert breaker.reopens_in(11) == 20


def test_successes_keep_it_closed_below_the_rate() -> None:
    breaker = Breaker(POLICY)
    for _ in range(3):
        breaker.record(True, 0)
    _fail(breaker, 2, now=0)
    assert breaker.state(0) is BreakerState.CLOSED


def test_old_outcomes_leave_the_window() -> None:
    breaker = Breaker(POLICY)
    _fail(breaker, 3, now=0)
    breaker.record(True, 11)
    breaker.record(False, 11)
    assert breaker.state(11) is BreakerState.CLOSED


def test_half_open_lets_one_probe_through_and_a_success_closes_it() -> None:
    breaker = Breaker(POLICY)
    _fail(breaker, 4, now=0)
    assert breaker.state(30) is BreakerState.HALF_OPEN
    assert breaker.allow(30)
    assert not breaker.allow(30), "only one probe at a time"
    breaker.record(True, 31)
    assert breaker.state(31) is BreakerState.CLOSED
    assert breaker.allow(31)


def test_a_failed_probe_opens_it_again_for_the_full_period() -> None:
    breaker = Breaker(POLICY)
    _fail(breaker, 4, now=0)
    assert breaker.allow(30)
    breaker.record(False, 32)
    assert breaker.state(32) is BreakerState.OPEN
    assert breaker.reopens_in(32) == 30


def test_a_released_probe_lets_the_next_one_try() -> None:
    breaker = Breaker(POLICY)
    _fail(breaker, 4, now=0)
    assert breaker.allow(30)
    breaker.release()
    assert breaker.allow(30)
