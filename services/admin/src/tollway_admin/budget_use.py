"""How much of each budget its owners have spent in the current period, from metering's
analytics (the exact, deduplicated rows), for the overview's "near their limit" list and the
budgets page's burn-down charts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from nats.aio.client import Client

from tollway_admin.analytics_client import ask
from tollway_admin.resources import BUDGETS, KEYS, ORGS, TEAMS
from tollway_admin.store import ControlStore
from tollway_common.budget_periods import current_period
from tollway_common.contract import SummaryQuery, SummaryReply, SummaryRow, UsageFilter
from tollway_common.control import Budget, BudgetPeriod

# Enough owners for any overview; each is one small analytics query.
MAX_OWNERS = 100


@dataclass(frozen=True, slots=True)
class Owner:
    kind: str  # org, team or key
    id: str
    label: str

    def filter(self, budget: Budget, since_ms: int) -> UsageFilter:
        return UsageFilter(
            since_ms=since_ms,
            model_alias=budget.model or "",
            **{f"{self.kind}_id": self.id},
        )


@dataclass(frozen=True, slots=True)
class BudgetUse:
    budget: Budget
    owner: Owner
    period_start_ms: int
    spent: Decimal

    @property
    def fraction(self) -> float:
        return float(self.spent / self.budget.amount)

    @property
    def near_limit(self) -> bool:
        return self.fraction >= self.budget.soft_threshold


def owners_of(store: ControlStore) -> dict[str, list[Owner]]:
    """budget id -> who names it."""
    found: dict[str, list[Owner]] = {}
    for org in store.all(ORGS):
        for budget_id in org.budget_ids:
            found.setdefault(budget_id, []).append(Owner("org", org.org_id, f"org {org.org_id}"))
    for team in store.all(TEAMS):
        for budget_id in team.budget_ids:
            owner = Owner("team", team.team_id, f"team {team.team_id}")
            found.setdefault(budget_id, []).append(owner)
    for key in store.all(KEYS):
        for budget_id in key.budget_ids:
            found.setdefault(budget_id, []).append(Owner("key", key.key_id, f"key {key.name}"))
    return found


def _pairs(store: ControlStore) -> list[tuple[Budget, Owner]]:
    owners = owners_of(store)
    return [
        (budget, owner)
        for budget in store.all(BUDGETS)
        for owner in owners.get(budget.budget_id, [])
    ][:MAX_OWNERS]


async def _spent(nc: Client, flt: UsageFilter) -> Decimal:
    reply = await ask(nc, "summary", SummaryQuery(filter=flt, limit=10), SummaryReply)
    return sum((Decimal(row.cost) for row in reply.rows), Decimal(0))


async def budget_uses(nc: Client, store: ControlStore, now: datetime) -> list[BudgetUse]:
    """Every (budget, owner) pair with what that owner spent this period, fullest first."""
    pairs = _pairs(store)
    starts = [int(current_period(budget, now)[0].timestamp() * 1000) for budget, _ in pairs]
    spent = await asyncio.gather(
        *(
            _spent(nc, owner.filter(budget, start))
            for (budget, owner), start in zip(pairs, starts, strict=True)
        )
    )
    uses = [
        BudgetUse(budget, owner, start, amount)
        for (budget, owner), start, amount in zip(pairs, starts, spent, strict=True)
    ]
    return sorted(uses, key=lambda use: use.fraction, reverse=True)


@dataclass(frozen=True, slots=True)
class BurnDown:
    """One owner's cumulative spend against one budget this period, a point per bucket."""

    use: BudgetUse
    period_end_ms: int
    points: list[tuple[int, Decimal]]


async def burn_down(
    nc: Client, budget: Budget, owner: Owner, since_ms: int, bucket: str = "day"
) -> list[tuple[int, Decimal]]:
    """Cumulative spend of one owner against one budget since `since_ms`, a point per bucket."""
    query = SummaryQuery(
        filter=owner.filter(budget, since_ms), bucket=bucket, order_by="time", limit=10_000
    )
    rows: list[SummaryRow] = (await ask(nc, "summary", query, SummaryReply)).rows
    total = Decimal(0)
    points = []
    for row in rows:
        total += Decimal(row.cost)
        points.append((row.bucket_ms, total))
    return points


def _bucket(budget: Budget) -> str:
    # A daily budget is only interesting by the hour; longer periods by the day.
    return "hour" if budget.period is BudgetPeriod.DAILY else "day"


async def burn_downs(nc: Client, store: ControlStore, now: datetime) -> list[BurnDown]:
    """A burn-down for every (budget, owner) pair, in the budgets' order: one analytics query
    each, whose last point is also what the owner spent."""
    pairs = _pairs(store)
    periods = [current_period(budget, now) for budget, _ in pairs]
    starts = [int(start.timestamp() * 1000) for start, _ in periods]
    found = await asyncio.gather(
        *(
            burn_down(nc, budget, owner, start, _bucket(budget))
            for (budget, owner), start in zip(pairs, starts, strict=True)
        )
    )
    return [
        BurnDown(
            BudgetUse(budget, owner, start, points[-1][1] if points else Decimal(0)),
            # A budget that never resets is drawn up to now.
            int((now if budget.period is BudgetPeriod.TOTAL else end).timestamp() * 1000),
            points,
        )
        for (budget, owner), start, (_, end), points in zip(
            pairs, starts, periods, found, strict=True
        )
    ]


def utc_now() -> datetime:
    return datetime.now(UTC)
