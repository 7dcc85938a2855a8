"""Run a plan's checks in Redis: reserve before the upstream call, settle after it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from redis.exceptions import RedisError

from tollway_common.errors import LimitsUnavailable
from tollway_edge import metrics
from tollway_edge.limits.plan import Check, Dimension
from tollway_edge.limits.scripts import RESERVE, SETTLE
from tollway_edge.redis_client import RedisClient
from tollway_edge.settings import RedisFailureModes

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


# The kinds of limit an operator chooses a Redis failure mode for (RedisFailureModes fields).
_KIND = {
    Dimension.REQUESTS: "requests",
    Dimension.TOKENS: "tokens",
    Dimension.PARALLEL: "concurrency",
    Dimension.CLIENT_PARALLEL: "concurrency",
    Dimension.SESSION: "concurrency",
    Dimension.BUDGET: "budgets",
}


def failure_modes(checks: Sequence[Check], modes: RedisFailureModes) -> dict[str, str]:
    """The kinds of limit among `checks`, each with its mode while Redis is down."""
    kinds = sorted({_KIND[check.dimension] for check in checks})
    return {kind: getattr(modes, kind) for kind in kinds}


def _args(
    checks: Sequence[Check], amounts: Sequence[int] | None = None, now_ms: int = 0
) -> list[str | int]:
    args: list[str | int] = [now_ms, len(checks)]
    for index, check in enumerate(checks):
        args += check.args(None if amounts is None else amounts[index])
    return args


class Limiter:
    def __init__(self, redis: RedisClient, modes: RedisFailureModes) -> None:
        self._reserve = redis.register_script(RESERVE)
        self._settle = redis.register_script(SETTLE)
        self._modes = modes

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
        modes = failure_modes(checks, self._modes)
        for kind, mode in modes.items():
            metrics.LIMITS_UNAVAILABLE.labels(kind, mode).inc()
        closed = [kind for kind, mode in modes.items() if mode == "closed"]
        if not closed:
            log.warning("redis unavailable, admitting without limits: %s", exc)
            return Reserved(checks, degraded=True)
        log.error("redis unavailable, refusing (%s fail closed): %s", ", ".join(closed), exc)
        raise LimitsUnavailable(
            f"The {' and '.join(closed)} that apply to this request cannot be checked right "
            "now; try again shortly.",
            retry_after=1,
        ) from None
