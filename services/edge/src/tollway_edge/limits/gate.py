"""Admission by limits and budgets for one request, and its settlement when the answer is in.

A caller whose key, team and org set no limits and no budgets costs nothing here: no Redis
call is made. Otherwise the worst case is reserved (estimated prompt tokens plus the most the
answer may use, and its cost), and the real usage is settled afterwards, usually a refund.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from redis.exceptions import RedisError

from tollway_common.budget_periods import current_period
from tollway_common.contract import ClientInfo, Endpoint, RequestFacts, Usage
from tollway_common.control import Budget, ModelAlias, Price, kv_key_for_alias
from tollway_common.errors import (
    BudgetExceeded,
    InvalidRequest,
    PermissionDenied,
    RateLimited,
    TollwayError,
)
from tollway_common.price_catalog import PriceCatalog, price_for
from tollway_common.pricing import MICRO, cost_of, media_cost, to_micro_units, worst_case_cost
from tollway_edge import metrics
from tollway_edge.admission import check_model
from tollway_edge.auth import Caller
from tollway_edge.catalog import Catalog
from tollway_edge.client_info import client_key
from tollway_edge.limits.alerts import AlertPublisher
from tollway_edge.limits.headers import refusal_headers, success_headers
from tollway_edge.limits.limiter import Limiter, Refused, Reserved
from tollway_edge.limits.plan import Demand, Dimension, Owner, SessionOf, hash_tag, plan
from tollway_edge.limits.plan import settlement_amounts as amounts_for
from tollway_edge.redis_client import RedisClient
from tollway_edge.request_facts import UNBILLED, bounded, writes_tokens
from tollway_edge.settings import LimitsSettings

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Ticket:
    """What admission decided for one request and reserved for it, to be settled once: the
    model that serves it (a budget may have downshifted it) and its facts, bounded by the
    default `max_tokens` when limits apply and the client named none."""

    model: ModelAlias
    facts: RequestFacts
    reserved: Reserved | None = None
    tokens: int = 0
    cost_micro: int = 0
    price: Price | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def alias(self) -> str:
        return self.model.name

    @property
    def active(self) -> bool:
        return self.reserved is not None and bool(self.reserved.checks)


class LimitGate:
    def __init__(
        self, catalog: Catalog, redis: RedisClient, alerts: AlertPublisher, settings: LimitsSettings
    ) -> None:
        self._catalog = catalog
        self._redis = redis
        self._limiter = Limiter(redis, settings.on_redis_error)
        self._alerts = alerts
        self._settings = settings
        self._prices = PriceCatalog() if settings.price_catalog else None
        self._settling: set[asyncio.Task[None]] = set()

    def price_of(self, model: ModelAlias) -> Price | None:
        """The operator's price of the alias, else the catalog's for the dearest model its
        deployments run (budgets reserve the worst case), else None: unpriced."""
        targets = [(d.provider.value, d.base_model or d.model) for d in model.deployments]
        return price_for(self._catalog.prices.items, model.name, self._prices, targets)

    def owners(self, caller: Caller, exempt: frozenset[str] = frozenset()) -> list[Owner]:
        """The levels with limits or budgets; budgets in `exempt` are left out (a request
        downshifted by a budget no longer counts against it)."""
        principal = caller.principal
        catalog = self._catalog
        records = [
            ("key", principal.key_id, caller.key),
            ("team", principal.team_id, catalog.teams.items.get(principal.team_id)),
            ("org", principal.org_id, catalog.orgs.items.get(principal.org_id)),
        ]
        owners: list[Owner] = []
        for kind, owner_id, record in records:
            if record is None:
                continue
            budgets = [
                budget
                for budget_id in record.budget_ids
                if budget_id not in exempt
                and (budget := catalog.budgets.items.get(budget_id)) is not None
            ]
            if record.limits.is_empty() and not budgets:
                continue
            # Keys are named as people know them, like the policy refusals do.
            shown = caller.key.name if kind == "key" and caller.key else owner_id
            owners.append(Owner(kind, owner_id, f"{kind} '{shown}'", record.limits, budgets))
        return owners

    async def admit(
        self,
        caller: Caller,
        endpoint: Endpoint,
        model: ModelAlias,
        facts: RequestFacts,
        request_id: str,
        client: ClientInfo,
        timeout_s: float,
        exempt: frozenset[str] = frozenset(),
    ) -> Ticket:
        owners = self.owners(caller, exempt)
        if not owners:
            return Ticket(model, facts)
        alias = model.name
        price = self.price_of(model)
        has_budget = any(o.budgets for o in owners)
        if has_budget and price is None:
            await self._unpriced(alias)
        if writes_tokens(endpoint) and facts.max_tokens is None:
            # Sent upstream too (`upstream_body`), so the reservation is a real bound.
            facts = bounded(facts, self._settings.default_max_tokens)
        prompt = 0 if endpoint in UNBILLED else facts.prompt_tokens
        # Every answer may use max_tokens: `n` answers reserve n times as much.
        most = facts.output_tokens or 0
        tokens = prompt + most
        # Images and speech cost their units too, known from the request; audio heard is not
        # known until the upstream has heard it, so it is charged at settlement alone.
        cost = (
            to_micro_units(
                worst_case_cost(price, prompt, most)
                + media_cost(price, facts.images, 0.0, facts.characters)
            )
            if price
            else 0
        )
        demand = Demand(
            request_id=request_id,
            model=alias,
            tokens=tokens,
            cost_micro=cost,
            client_hash=client_key(client),
            slot_ttl_ms=int(timeout_s * 1000) + 5000,
            now=datetime.now(UTC),
            session=_session_of(caller, client),
        )
        checks = plan(owners, hash_tag(caller.principal), demand)
        outcome = await self._limiter.reserve(checks)
        if isinstance(outcome, Refused):
            budget = outcome.check.budget
            if budget is not None:
                await self._alerts.budget_exceeded(outcome.check, budget)
                if budget.downshift_to and budget.budget_id not in exempt:
                    return await self._downshift(
                        caller, endpoint, budget, facts, request_id, client, timeout_s, exempt
                    )
            metrics.record_refusal(outcome.check.dimension.value, outcome.check.owner)
            raise _refusal(outcome, tokens)
        headers = success_headers(outcome.checks, outcome.results) if outcome.results else {}
        return Ticket(model, facts, outcome, tokens, cost, price, headers)

    async def _downshift(
        self,
        caller: Caller,
        endpoint: Endpoint,
        budget: Budget,
        facts: RequestFacts,
        request_id: str,
        client: ClientInfo,
        timeout_s: float,
        exempt: frozenset[str],
    ) -> Ticket:
        """Admit the request again on the budget's `downshift_to` model, resolved here; the
        ticket carries it, so the request goes to that model."""
        target = budget.downshift_to
        assert target is not None
        check_model(caller, target)
        model = self._catalog.resolve(target)
        log.info("budget reached, downshifting", extra={"budget_id": budget.budget_id})
        return await self.admit(
            caller,
            endpoint,
            model,
            facts,
            request_id,
            client,
            timeout_s,
            exempt | {budget.budget_id},
        )

    async def _unpriced(self, alias: str) -> None:
        metrics.UNPRICED_MODEL.labels(alias).inc()
        await self._alerts.unpriced_model(alias)
        if self._settings.unpriced_model == "refuse":
            raise PermissionDenied(
                f"The model '{alias}' has no price, and a budget applies to this key; the "
                "gateway operator must set a price before it can be used.",
                param="model",
                code="unpriced_model",
            )

    def settle_later(
        self,
        ticket: Ticket,
        usage: Usage | None,
        chunks_relayed: int = 0,
        served_model: str = "",
    ) -> None:
        """Settle in the background: the client has its answer already. Without reported
        usage (the client left, the router was lost) the prompt estimate and one token per
        relayed chunk are charged, as metering's estimate does. An answer from a fallback
        alias (`served_model`) costs that alias's price, when it has one."""
        if not ticket.active:
            return
        if served_model and served_model != ticket.alias:
            served = self._catalog.models.items.get(kv_key_for_alias(served_model))
            served_price = self.price_of(served) if served is not None else None
            ticket.price = served_price or ticket.price
        if usage is None:
            usage = Usage(
                prompt_tokens=ticket.facts.prompt_tokens,
                completion_tokens=chunks_relayed,
                total_tokens=ticket.facts.prompt_tokens + chunks_relayed,
                estimated=True,
            )
        task = asyncio.create_task(self.settle(ticket, usage))
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)

    async def settle(self, ticket: Ticket, usage: Usage) -> None:
        reserved = ticket.reserved
        assert reserved is not None
        used_cost = 0
        if ticket.price is not None:
            used_cost = to_micro_units(
                cost_of(
                    ticket.price,
                    usage.prompt_tokens,
                    usage.completion_tokens,
                    usage.cached_read_tokens,
                    usage.cache_write_tokens,
                )
                + media_cost(ticket.price, usage.images, usage.audio_seconds, usage.characters)
            )
        amounts = amounts_for(reserved.checks, usage.total_tokens, used_cost)
        totals = await self._limiter.settle(reserved, amounts)
        if totals is None:
            return
        for check, total in zip(reserved.checks, totals, strict=True):
            budget = check.budget
            if budget is not None and total >= check.limit * budget.soft_threshold:
                await self._alerts.budget_soft(check, budget, total)

    async def budget_status(self, caller: Caller) -> list[dict[str, Any]]:
        """Each budget that applies to the caller with what it has spent this period
        (including reservations of requests still running)."""
        status: list[dict[str, Any]] = []
        now = datetime.now(UTC)
        tag = hash_tag(caller.principal)
        for owner in self.owners(caller):
            for budget in owner.budgets:
                demand = Demand("", budget.model or "", 0, 0, "", 0, now)
                (check,) = [c for c in plan([owner], tag, demand) if c.budget is budget]
                try:
                    spent = int(await self._redis.get(check.key) or 0)
                except (RedisError, OSError):
                    spent = -1
                start, end = current_period(budget, now)
                status.append(
                    {
                        "owner": owner.label,
                        "budget_id": budget.budget_id,
                        "amount": str(budget.amount),
                        "currency": budget.currency,
                        "model": budget.model,
                        "period_start": int(start.timestamp()),
                        "period_end": int(end.timestamp()),
                        "spent": str(Decimal(spent) / MICRO) if spent >= 0 else None,
                    }
                )
        return status

    async def drain(self) -> None:
        if self._settling:
            await asyncio.gather(*self._settling, return_exceptions=True)


def _session_of(caller: Caller, client: ClientInfo) -> SessionOf | None:
    """Virtual keys' clients have sessions; OIDC callers and Foundry tenants have none."""
    key = caller.key
    if key is None:
        return None
    return SessionOf(key.key_id, f"key '{key.name}'", client.user_agent)


def _refusal(refused: Refused, tokens: int) -> TollwayError:
    check = refused.check
    if check.dimension is Dimension.SESSION:
        until = datetime.now(UTC).timestamp() + refused.retry_after_ms / 1000
        shown = datetime.fromtimestamp(until, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return PermissionDenied(
            f"A gateway administrator revoked this client's session on the {check.owner} "
            f"until {shown}: requests from this client (its IP address and user agent) with "
            "this key are refused until then. Ask your gateway operator if you need access.",
            code="session_revoked",
        )
    if check.dimension is Dimension.BUDGET:
        budget = check.budget
        assert budget is not None
        return BudgetExceeded(
            f"The {check.owner} reached its budget '{budget.budget_id}' of {budget.amount} "
            f"{budget.currency} for this {budget.period.value} period.",
        )
    if refused.retry_after_ms < 0:
        return InvalidRequest(
            f"This request needs about {tokens} tokens, more than the {check.owner} limit of "
            f"{check.limit} tokens per minute; ask for fewer max_tokens, fewer answers (n) or "
            "a shorter prompt.",
            code="tokens_exceed_limit",
        )
    seconds = refused.retry_after_ms / 1000
    what = {
        Dimension.REQUESTS: f"requests per minute (RPM): limit {check.limit}",
        Dimension.TOKENS: f"tokens per minute (TPM): limit {check.limit}, requested {tokens}",
        Dimension.PARALLEL: f"parallel requests: limit {check.limit}",
        Dimension.CLIENT_PARALLEL: f"parallel requests from one client: limit {check.limit}",
    }[check.dimension]
    scope = f" for model '{check.model}'" if check.model else ""
    return RateLimited(
        f"Rate limit reached for the {check.owner}{scope} on {what}. "
        f"Please try again in {seconds:.3g}s.",
        retry_after=max(seconds, 1.0),
        headers=refusal_headers(check, refused.retry_after_ms),
    )
