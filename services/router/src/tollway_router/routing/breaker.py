"""A circuit breaker for one deployment (pure: the caller passes the time).

Closed, it counts outcomes over a sliding window and opens when the failure rate crosses the
threshold; open, it refuses calls for `open_s`; then it lets one probe through (half-open): a
success closes it, a failure opens it again. Each router keeps its own breakers, judged on its
own traffic; the states every replica must share (rate-limited, invalid, inactive) live in KV.
"""

from __future__ import annotations

from collections import deque
from enum import StrEnum

from tollway_common.control import CircuitBreaker


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Breaker:
    def __init__(self, policy: CircuitBreaker) -> None:
        self.policy = policy
        self._outcomes: deque[tuple[float, bool]] = deque()
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    def state(self, now: float) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if now - self._opened_at < self.policy.open_s:
            return BreakerState.OPEN
        return BreakerState.HALF_OPEN

    def reopens_in(self, now: float) -> float:
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self.policy.open_s - now)

    def would_allow(self, now: float) -> bool:
        state = self.state(now)
        if state is BreakerState.CLOSED:
            return True
        return state is BreakerState.HALF_OPEN and not self._probing

    def allow(self, now: float) -> bool:
        """May a call go out now? In half-open, only one probe at a time (it is taken here)."""
        if not self.would_allow(now):
            return False
        if self.state(now) is BreakerState.HALF_OPEN:
            self._probing = True
        return True

    def record(self, ok: bool, now: float) -> None:
        if self._opened_at is not None:
            if self.state(now) is BreakerState.HALF_OPEN or self._probing:
                self._probing = False
                if ok:
                    self._close()
                else:
                    self._opened_at = now
            return
        self._outcomes.append((now, ok))
        if not ok:
            self._failures += 1
        self._forget_before(now - self.policy.window_s)
        total = len(self._outcomes)
        if total >= self.policy.min_requests and self._failures / total >= self.policy.failure_rate:
            self._opened_at = now
            self._outcomes.clear()
            self._failures = 0

    def release(self) -> None:
        """A probe ended without a verdict (the client left): let another one try."""
        self._probing = False

    def _close(self) -> None:
        self._opened_at = None
        self._outcomes.clear()
        self._failures = 0

    def _forget_before(self, cutoff: float) -> None:
        while self._outcomes and self._outcomes[0][0] < cutoff:
            _, ok = self._outcomes.popleft()
            if not ok:
                self._failures -= 1
