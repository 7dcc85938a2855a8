"""The checks a request meets: which owners, which keys, shares, per-model limits, budgets."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tollway_common.contract import Principal
from tollway_common.control import Budget, BudgetPeriod, Limits, RateLimit
from tollway_edge.limits.headers import duration, success_headers
from tollway_edge.limits.plan import (
    Demand,
    Dimension,
    Owner,
    SessionOf,
    effective_rates,
    hash_tag,
    plan,
    settlement_amounts,
)

NOW = datetime(2026, 11, 22, 15, 30, tzinfo=UTC)
DEMAND = Demand(
    request_id="req-1",
    model="gpt-4o",
    tokens=1200,
    cost_micro=5000,
    client_hash="abc",
    slot_ttl_ms=60_000,
    now=NOW,
)


def test_keys_share_the_callers_hash_tag() -> None:
    assert hash_tag(Principal(key_id="k", org_id="acme")) == "org:acme"
    assert hash_tag(Principal(key_id="k")) == "key:k"
    assert hash_tag(Principal(key_id="", user_id="u", auth="jwt")) == "user:u"
    owners = [Owner("key", "k1", "key 'k1'", Limits(rpm=10, tpm=1000, max_parallel=2))]
    checks = plan(owners, "org:acme", DEMAND)
    assert {check.key.split(":")[1] for check in checks} == {"{org"}
    assert all("{org:acme}" in check.key for check in checks)


def test_a_share_is_a_fraction_of_the_parents_effective_limit() -> None:
    org = Owner("org", "o", "org 'o'", Limits(rpm=1000, tpm=100_000))
    team = Owner("team", "t", "team 't'", Limits(share=0.5))
    key = Owner("key", "k", "key 'k'", Limits(share=0.1, tpm=2000))
    assert effective_rates([key, team, org]) == [(50, 2000), (500, 50_000), (1000, 100_000)]


def test_every_level_and_dimension_becomes_one_check() -> None:
    key = Owner(
        "key",
        "k",
        "key 'k'",
        Limits(
            rpm=10,
            tpm=1000,
            models={"gpt-4o": RateLimit(rpm=2)},
            max_parallel=3,
            max_parallel_per_client=1,
        ),
    )
    org = Owner("org", "o", "org 'o'", Limits(tpm=50_000))
    checks = plan([key, org], "org:o", DEMAND)
    described = [(c.owner, c.dimension, c.model, c.limit, c.amount) for c in checks]
    assert described == [
        ("key 'k'", Dimension.REQUESTS, None, 10, 1),
        ("key 'k'", Dimension.TOKENS, None, 1000, 1200),
        ("key 'k'", Dimension.REQUESTS, "gpt-4o", 2, 1),
        ("key 'k'", Dimension.PARALLEL, None, 3, 1),
        ("key 'k'", Dimension.CLIENT_PARALLEL, None, 1, 1),
        ("org 'o'", Dimension.TOKENS, None, 50_000, 1200),
    ]
    slots = [c for c in checks if c.kind == "slot"]
    assert {c.member for c in slots} == {"req-1"}
    assert checks[2].key != checks[0].key, "a per-model limit has its own counter"


def test_budgets_count_per_owner_and_period_and_only_for_their_model() -> None:
    monthly = Budget(budget_id="m", amount=Decimal("12.5"))
    other_model = Budget(budget_id="x", amount=Decimal(1), model="claude")
    daily = Budget(budget_id="d", amount=Decimal(2), period=BudgetPeriod.DAILY)
    key = Owner("key", "k", "key 'k'", Limits(), [monthly, other_model])
    team = Owner("team", "t", "team 't'", Limits(), [monthly, daily])
    checks = plan([key, team], "org:o", DEMAND)
    budgets = [(c.owner, c.key.rsplit(":", 3)[-3:], c.limit, c.amount) for c in checks]
    month_start = str(int(datetime(2026, 11, 1, tzinfo=UTC).timestamp()))
    day_start = str(int(datetime(2026, 11, 22, tzinfo=UTC).timestamp()))
    assert budgets == [
        ("key 'k'", ["bud", "m", month_start], 12_500_000, 5000),
        ("team 't'", ["bud", "m", month_start], 12_500_000, 5000),
        ("team 't'", ["bud", "d", day_start], 2_000_000, 5000),
    ]
    assert checks[0].key != checks[1].key
    month_end = datetime(2026, 12, 1, tzinfo=UTC)
    assert checks[0].ttl_ms == int((month_end - NOW).total_seconds() * 1000) + 86_400_000


def test_settlement_charges_the_difference() -> None:
    owners = [
        Owner(
            "key",
            "k",
            "key 'k'",
            Limits(rpm=5, tpm=5000, max_parallel=1),
            [Budget(budget_id="b", amount=Decimal(1))],
        )
    ]
    checks = plan(owners, "org:o", DEMAND)
    assert settlement_amounts(checks, used_tokens=300, used_cost_micro=1200) == [
        0,
        300 - 1200,
        1200 - 5000,
        0,
    ]


@pytest.mark.parametrize(
    ("ms", "shown"), [(0, "0ms"), (20, "20ms"), (1500, "1.5s"), (59_000, "59s"), (360_000, "6m0s")]
)
def test_reset_durations_are_written_like_openais(ms: int, shown: str) -> None:
    assert duration(ms) == shown


def test_success_headers_report_the_tightest_check() -> None:
    key = Owner("key", "k", "key 'k'", Limits(rpm=10, tpm=1000))
    org = Owner("org", "o", "org 'o'", Limits(rpm=100, tpm=500))
    checks = plan([key, org], "org:o", DEMAND)
    headers = success_headers(checks, [(9, 6000), (0, 60_000), (99, 600), (3, 1500)])
    assert headers == {
        "x-ratelimit-limit-requests": "10",
        "x-ratelimit-remaining-requests": "9",
        "x-ratelimit-reset-requests": "6s",
        "x-ratelimit-limit-tokens": "1000",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": "1m0s",
    }


SESSION = SessionOf(key_id="k", key_label="key 'k'", user_agent="claude-cli/2.0")


def test_a_keys_client_is_a_session_where_a_level_limits_parallel_requests_per_client() -> None:
    team = Owner("team", "t", "team 't'", Limits(max_parallel_per_client=2))
    demand = replace(DEMAND, session=SESSION)
    checks = plan([team], "org:o", demand)
    assert [(c.kind, c.key, c.member, c.note) for c in checks[:2]] == [
        ("session", "tw:{org:o}:key:k:sess:abc", "req-1", "claude-cli/2.0"),
        ("sessions", "tw:{org:o}:key:k:sessions", "abc", ""),
    ]
    assert [c.dimension for c in checks] == [
        Dimension.SESSION,
        Dimension.SESSION,
        Dimension.CLIENT_PARALLEL,
    ]
    assert settlement_amounts(checks, 10, 10) == [0, 0, 0]


def test_no_session_without_a_per_client_limit_a_key_or_a_client() -> None:
    key = Owner("key", "k", "key 'k'", Limits(rpm=10, max_parallel=3))
    assert all(c.kind not in ("session", "sessions") for c in plan([key], "t", DEMAND))
    assert plan([key], "t", replace(DEMAND, session=SESSION)) == plan([key], "t", DEMAND)
    per_client = Owner("key", "k", "key 'k'", Limits(max_parallel_per_client=1))
    jwt_caller = plan([per_client], "t", DEMAND)
    assert [c.dimension for c in jwt_caller] == [Dimension.CLIENT_PARALLEL]
    anonymous = replace(DEMAND, session=SESSION, client_hash="")
    assert plan([per_client], "t", anonymous) == []
