"""The period a budget is counting at a moment: its start and end, in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tollway_common.control import Budget, BudgetPeriod

# A far end for budgets that never reset.
_FOREVER = datetime(9999, 1, 1, tzinfo=UTC)


def current_period(budget: Budget, now: datetime) -> tuple[datetime, datetime]:
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if budget.period is BudgetPeriod.DAILY:
        return day, day + timedelta(days=1)
    if budget.period is BudgetPeriod.WEEKLY:
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    if budget.period is BudgetPeriod.MONTHLY:
        start = day.replace(day=1)
        following = (start + timedelta(days=32)).replace(day=1)
        return start, following
    origin = datetime.fromtimestamp(budget.starts_at, UTC)
    if budget.period is BudgetPeriod.TOTAL:
        return origin, _FOREVER
    assert budget.period_days is not None
    length = timedelta(days=budget.period_days)
    elapsed = max(timedelta(0), now - origin)
    start = origin + length * (elapsed // length)
    return start, start + length
