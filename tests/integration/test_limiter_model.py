"""The limiter's Lua arithmetic in a real Redis, against a plain Python model of the same
rules, on operation sequences hypothesis chooses (with explicit times, so both see the same
clock)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from tollway_cli.servers import RedisServer
from tollway_edge.limits.limiter import Limiter, Refused, Reserved
from tollway_edge.limits.plan import Check, Dimension
from tollway_edge.settings import RedisFailureModes

PERIOD = 60_000
RPM, TPM, BUDGET, SLOTS = 4, 1_000, 3_000, 3


@dataclass
class Model:
    """The reference: GCRA as the theoretical arrival time, a spend counter, a slot set."""

    requests_tat: float = 0.0
    tokens_tat: float = 0.0
    spent: int = 0
    slots: dict[str, int] = field(default_factory=dict)

    def reserve(self, tokens: int, cost: int, member: str, now: int) -> bool:
        if tokens > TPM:
            return False
        requests_tat = max(self.requests_tat, now) + PERIOD / RPM
        tokens_tat = max(self.tokens_tat, now) + tokens * (PERIOD / TPM)
        live = {m: expiry for m, expiry in self.slots.items() if expiry > now}
        if (
            requests_tat - now > PERIOD
            or tokens_tat - now > PERIOD
            or self.spent + cost > BUDGET
            or len(live) >= SLOTS
        ):
            return False
        self.requests_tat, self.tokens_tat = requests_tat, tokens_tat
        self.spent += cost
        self.slots = {**live, member: now + PERIOD}
        return True

    def settle(self, token_delta: int, cost_delta: int, member: str, now: int) -> None:
        step = PERIOD / TPM
        if token_delta > 0:
            self.tokens_tat = max(self.tokens_tat, now) + token_delta * step
        elif token_delta < 0:
            self.tokens_tat = max(self.tokens_tat + token_delta * step, now)
        self.spent = max(0, self.spent + cost_delta)
        self.slots.pop(member, None)


def _checks(tokens: int, cost: int, member: str) -> list[Check]:
    def check(kind: str, key: str, limit: int, amount: int, dimension: Dimension) -> Check:
        return Check(kind, f"tw:{{t}}:{key}", limit, amount, PERIOD, member, "key 'k'", dimension)

    return [
        check("rate", "rpm", RPM, 1, Dimension.REQUESTS),
        check("rate", "tpm", TPM, tokens, Dimension.TOKENS),
        check("budget", "bud", BUDGET, cost, Dimension.BUDGET),
        check("slot", "par", SLOTS, 1, Dimension.PARALLEL),
    ]


operation = st.one_of(
    st.tuples(st.just("reserve"), st.integers(1, 1100), st.sampled_from([0, 500, 1000, 1500])),
    st.tuples(st.just("reserve"), st.integers(1, 1100), st.sampled_from([0, 500, 1000, 1500])),
    st.tuples(st.just("settle"), st.integers(0, 1100), st.integers(0, 1500)),
    st.tuples(st.just("wait"), st.integers(1, 20_000), st.just(0)),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(operations=st.lists(operation, min_size=1, max_size=60))
def test_the_lua_limiter_matches_the_reference_model(
    redis_server: RedisServer, operations: list[tuple[str, int, int]]
) -> None:
    asyncio.run(_replay(redis_server.url, operations))


async def _replay(url: str, operations: list[tuple[str, int, int]]) -> None:
    redis = Redis.from_url(url)
    await redis.flushall()
    closed = RedisFailureModes(requests="closed", tokens="closed", concurrency="closed")
    limiter = Limiter(redis, closed)
    model = Model()
    now = 1_000_000
    open_reservations: list[tuple[Reserved, int, int, str]] = []
    try:
        for index, (kind, first, second) in enumerate(operations):
            if kind == "wait":
                now += first
            elif kind == "reserve":
                member = f"r{index}"
                outcome = await limiter.reserve(_checks(first, second, member), now_ms=now)
                expected = model.reserve(first, second, member, now)
                assert isinstance(outcome, Reserved) == expected, (index, outcome)
                if isinstance(outcome, Reserved):
                    open_reservations.append((outcome, first, second, member))
                else:
                    assert isinstance(outcome, Refused)
            elif open_reservations:
                reserved, tokens, cost, member = open_reservations.pop(0)
                used_tokens, used_cost = first, second
                amounts = [0, used_tokens - tokens, used_cost - cost, 0]
                totals = await limiter.settle(reserved, amounts, now_ms=now)
                model.settle(used_tokens - tokens, used_cost - cost, member, now)
                assert totals is not None
                assert totals[2] == model.spent
    finally:
        await redis.aclose()
