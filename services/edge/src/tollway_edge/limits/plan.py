"""Which limits a request meets, as the list of checks one Redis call makes. Pure, so the
arithmetic and the key layout are unit-tested without Redis.

Keys share the hash tag of the caller's org (else its key or user), so one script touches
one Redis Cluster slot. Budgets count per owner: a budget referenced by several keys gives each
key its own allowance.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from tollway_common.budget_periods import current_period
from tollway_common.contract import Principal
from tollway_common.control import Budget, Limits, RateLimit
from tollway_edge.limits.sessions import index_key, session_key

# Budget counters outlive their period by a day so a late settlement still finds them.
_BUDGET_GRACE_MS = 86_400_000


class Dimension(StrEnum):
    REQUESTS = "requests"
    TOKENS = "tokens"
    BUDGET = "budget"
    PARALLEL = "parallel"
    CLIENT_PARALLEL = "client_parallel"
    # A client session (`sessions.py`): tracked, and refused while an operator revoked it.
    SESSION = "session"


@dataclass(frozen=True, slots=True)
class Owner:
    """One level whose limits apply: `kind` is key, team or org."""

    kind: str
    id: str
    label: str
    limits: Limits
    budgets: Sequence[Budget] = ()


@dataclass(frozen=True, slots=True)
class SessionOf:
    """The virtual key a client's requests make a session of, and the client's user agent."""

    key_id: str
    key_label: str
    user_agent: str


@dataclass(frozen=True, slots=True)
class Demand:
    request_id: str
    model: str
    tokens: int
    cost_micro: int | None
    client_hash: str
    slot_ttl_ms: int
    now: datetime
    session: SessionOf | None = None


@dataclass(frozen=True, slots=True)
class Check:
    kind: str
    key: str
    limit: int
    amount: int
    ttl_ms: int
    member: str
    owner: str
    dimension: Dimension
    model: str | None = None
    budget: Budget | None = field(default=None, compare=False)
    # Text a session check stores with the session (the user agent).
    note: str = ""

    def args(self, amount: int | None = None) -> list[str | int]:
        return [
            self.kind,
            self.limit,
            self.amount if amount is None else amount,
            self.ttl_ms,
            self.member,
            self.note,
        ]


def hash_tag(principal: Principal) -> str:
    if principal.org_id:
        return f"org:{principal.org_id}"
    if principal.key_id:
        return f"key:{principal.key_id}"
    return f"user:{principal.user_id}"


def _alias_part(alias: str) -> str:
    return base64.urlsafe_b64encode(alias.encode()).decode().rstrip("=")


def effective_rates(owners: Sequence[Owner]) -> list[tuple[int | None, int | None]]:
    """(rpm, tpm) per owner, narrowest first, with `share` resolved against the next wider
    owner's effective value."""
    resolved: list[tuple[int | None, int | None]] = []
    parent: tuple[int | None, int | None] = (None, None)
    for owner in reversed(owners):
        limits = owner.limits
        rpm = limits.rpm or _share(parent[0], limits.share)
        tpm = limits.tpm or _share(parent[1], limits.share)
        parent = (rpm, tpm)
        resolved.append(parent)
    return list(reversed(resolved))


def _share(parent: int | None, share: float | None) -> int | None:
    if parent is None or share is None:
        return None
    return max(1, int(parent * share))


def _rate_checks(
    prefix: str, owner: Owner, rate: RateLimit, demand: Demand, model: str | None
) -> list[Check]:
    suffix = f":m:{_alias_part(model)}" if model else ""
    checks = []
    if rate.rpm is not None:
        checks.append(
            Check(
                "rate",
                f"{prefix}:rpm{suffix}",
                rate.rpm,
                1,
                0,
                "",
                owner.label,
                Dimension.REQUESTS,
                model,
            )
        )
    if rate.tpm is not None and demand.tokens > 0:
        checks.append(
            Check(
                "rate",
                f"{prefix}:tpm{suffix}",
                rate.tpm,
                demand.tokens,
                0,
                "",
                owner.label,
                Dimension.TOKENS,
                model,
            )
        )
    return checks


def _budget_check(prefix: str, owner: Owner, budget: Budget, demand: Demand) -> Check:
    start, end = current_period(budget, demand.now)
    ttl_ms = int((end - demand.now).total_seconds() * 1000) + _BUDGET_GRACE_MS
    limit = int(budget.amount * 1_000_000)
    return Check(
        "budget",
        f"{prefix}:bud:{budget.budget_id}:{int(start.timestamp())}",
        limit,
        demand.cost_micro or 0,
        min(ttl_ms, 2**62),
        "",
        owner.label,
        Dimension.BUDGET,
        budget.model,
        budget,
    )


def session_checks(owners: Sequence[Owner], tag: str, demand: Demand) -> list[Check]:
    """The session of a key's client, where some level limits parallel requests per client:
    its hash (refused while revoked) and the key's index of sessions."""
    session = demand.session
    if session is None or not demand.client_hash:
        return []
    if not any(owner.limits.max_parallel_per_client for owner in owners):
        return []
    client = demand.client_hash
    return [
        Check(
            "session",
            session_key(tag, session.key_id, client),
            0,
            1,
            demand.slot_ttl_ms,
            demand.request_id,
            session.key_label,
            Dimension.SESSION,
            note=session.user_agent,
        ),
        Check(
            "sessions",
            index_key(tag, session.key_id),
            0,
            1,
            demand.slot_ttl_ms,
            client,
            session.key_label,
            Dimension.SESSION,
        ),
    ]


def plan(owners: Sequence[Owner], tag: str, demand: Demand) -> list[Check]:
    """Every check the request must pass: the client's session first (a revoked client hears
    that, not a rate limit), then narrowest owner first."""
    checks = session_checks(owners, tag, demand)
    for owner, (rpm, tpm) in zip(owners, effective_rates(owners), strict=True):
        prefix = f"tw:{{{tag}}}:{owner.kind}:{owner.id}"
        checks += _rate_checks(prefix, owner, RateLimit(rpm=rpm, tpm=tpm), demand, None)
        model_rate = owner.limits.models.get(demand.model)
        if model_rate is not None:
            checks += _rate_checks(prefix, owner, model_rate, demand, demand.model)
        for budget in owner.budgets:
            if budget.model is None or budget.model == demand.model:
                checks.append(_budget_check(prefix, owner, budget, demand))
        if owner.limits.max_parallel is not None:
            checks.append(
                Check(
                    "slot",
                    f"{prefix}:par",
                    owner.limits.max_parallel,
                    1,
                    demand.slot_ttl_ms,
                    demand.request_id,
                    owner.label,
                    Dimension.PARALLEL,
                )
            )
        per_client = owner.limits.max_parallel_per_client
        if per_client is not None and demand.client_hash:
            checks.append(
                Check(
                    "slot",
                    f"{prefix}:par:client:{demand.client_hash}",
                    per_client,
                    1,
                    demand.slot_ttl_ms,
                    demand.request_id,
                    owner.label,
                    Dimension.CLIENT_PARALLEL,
                )
            )
    return checks


def settlement_amounts(
    checks: Sequence[Check], used_tokens: int, used_cost_micro: int
) -> list[int]:
    """Per check, what to add back to Redis: used minus reserved (negative is a refund)."""
    amounts = []
    for check in checks:
        if check.dimension is Dimension.TOKENS:
            amounts.append(used_tokens - check.amount)
        elif check.dimension is Dimension.BUDGET:
            amounts.append(used_cost_micro - check.amount)
        else:
            amounts.append(0)
    return amounts
