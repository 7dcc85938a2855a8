"""Run a plan's checks in Redis: reserve before the upstream call, settle after it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.exceptions import RedisError

from tollway_common.errors import LimitsUnavailable
from tollway_edge import metrics
from tollway_edge.limits.plan import Check
from tollway_edge.limits.scripts import RESERVE, SETTLE

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Refused:
    """The check that refused and, for rate and slot checks, ms until it could pass
    (-1: never, the request alone is larger than the limit)."""

    check: Check
    retry_after_ms: int


@dataclass(frozen=True, slots=True)
class Reserved:
    checks: Sequence[Check]
    # Per check: (remaining, ms until the rate bucket is full | the budget's new total).
    results: Sequence[tuple[int, int]] = field(default_factory=tuple)
    degraded: bool = False


def _args(
    checks: Sequence[Check], amounts: Sequence[int] | None = None, now_ms: int = 0
) -> list[str | int]:
    args: list[str | int] = [now_ms, len(checks)]
    for index, check in enumerate(checks):
        args += check.args(None if amounts is None else amounts[index])
    return args


class Limiter:
    def __init__(self, redis: Redis, fail_open: bool) -> None:
        self._reserve = redis.register_script(RESERVE)
        self._settle = redis.register_script(SETTLE)
        self._fail_open = fail_open

    async def reserve(self, checks: Sequence[Check], now_ms: int = 0) -> Reserved | Refused:
        """`now_ms` 0 uses Redis's clock; tests pass explicit times."""
        if not checks:
            return Reserved(checks)
        try:
            reply = await self._reserve(
                keys=[c.key for c in checks], args=_args(checks, now_ms=now_ms)
            )
        except (RedisError, OSError) as exc:
            return self._unavailable(checks, exc)
        if int(reply[0]) == 0:
            return Refused(checks[int(reply[1]) - 1], int(reply[2]))
        values = [int(v) for v in reply[1:]]
        pairs = tuple(zip(values[0::2], values[1::2], strict=True))
        return Reserved(checks, pairs)

    async def settle(
        self, reserved: Reserved, amounts: Sequence[int], now_ms: int = 0
    ) -> list[int] | None:
        """Apply what was used beyond (or short of) the reservation; per check the budget
        totals after it, or None when Redis could not be reached (the reservation stays
        until it expires)."""
        if not reserved.checks or reserved.degraded:
            return None
        checks = reserved.checks
        try:
            reply = await self._settle(
                keys=[c.key for c in checks], args=_args(checks, amounts, now_ms)
            )
        except (RedisError, OSError):
            log.exception("limits not settled; reservations stay until they expire")
            return None
        return [int(v) for v in reply]

    def _unavailable(self, checks: Sequence[Check], exc: Exception) -> Reserved:
        metrics.LIMITS_UNAVAILABLE.labels("admitted" if self._fail_open else "refused").inc()
        if self._fail_open:
            log.warning("redis unavailable, admitting without limits: %s", exc)
            return Reserved(checks, degraded=True)
        log.error("redis unavailable, refusing: %s", exc)
        raise LimitsUnavailable(
            "Rate limits and budgets cannot be checked right now; try again shortly.",
            retry_after=1,
        ) from None
