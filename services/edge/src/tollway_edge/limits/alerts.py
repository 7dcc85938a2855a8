"""Publish alerts once per occurrence, whichever edge sees it first: a Redis `SET NX` marker
per budget period (or model and hour) decides, and the JetStream message id makes a retried
publish harmless."""

from __future__ import annotations

import logging
import time

from nats.js import JetStreamContext
from redis.exceptions import RedisError

from tollway_common import contract
from tollway_common.contract import Alert, AlertKind
from tollway_common.control import Budget
from tollway_edge.limits.plan import Check
from tollway_edge.redis_client import RedisClient

log = logging.getLogger(__name__)

_HOUR_MS = 3_600_000


class AlertPublisher:
    def __init__(self, js: JetStreamContext, redis: RedisClient) -> None:
        self._js = js
        self._redis = redis

    async def budget_soft(self, check: Check, budget: Budget, total_micro: int) -> None:
        await self._once(
            f"{check.key}:soft",
            check.ttl_ms,
            Alert(
                alert_id=f"{check.key}:soft",
                kind=AlertKind.BUDGET_SOFT,
                at_ms=int(time.time() * 1000),
                message=(
                    f"The {check.owner} has used {budget.soft_threshold:.0%} or more of its "
                    f"budget '{budget.budget_id}'."
                ),
                owner=check.owner,
                budget_id=budget.budget_id,
                period_start=_period_start(check),
                limit=str(budget.amount),
                spent=str(total_micro / 1_000_000),
                currency=budget.currency,
                model=budget.model or "",
            ),
        )

    async def budget_exceeded(self, check: Check, budget: Budget) -> None:
        await self._once(
            f"{check.key}:hard",
            check.ttl_ms,
            Alert(
                alert_id=f"{check.key}:hard",
                kind=AlertKind.BUDGET_EXCEEDED,
                at_ms=int(time.time() * 1000),
                message=f"The {check.owner} reached its budget '{budget.budget_id}'.",
                owner=check.owner,
                budget_id=budget.budget_id,
                period_start=_period_start(check),
                limit=str(budget.amount),
                currency=budget.currency,
                model=budget.model or "",
            ),
        )

    async def unpriced_model(self, alias: str) -> None:
        hour = int(time.time() * 1000) // _HOUR_MS
        log.warning("model has no price", extra={"model": alias})
        await self._once(
            f"tw:unpriced:{alias}:{hour}",
            _HOUR_MS,
            Alert(
                alert_id=f"unpriced:{alias}:{hour}",
                kind=AlertKind.UNPRICED_MODEL,
                at_ms=int(time.time() * 1000),
                message=f"The model '{alias}' is used under a budget but has no price.",
                model=alias,
            ),
        )

    async def _once(self, marker: str, ttl_ms: int, alert: Alert) -> None:
        try:
            if not await self._redis.set(marker, 1, nx=True, px=max(ttl_ms, 1)):
                return
            await self._js.publish(
                contract.ALERTS_SUBJECT,
                contract.encode(alert),
                headers={contract.HEADER_MSG_ID: alert.alert_id},
                timeout=5,
            )
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("alert not published: %s", exc, extra={"alert": alert.kind.value})
        except Exception:
            log.exception("alert not published")


def _period_start(check: Check) -> int:
    return int(check.key.rsplit(":", 1)[-1])
