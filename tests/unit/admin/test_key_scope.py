"""What a team-admin may set on its team's keys: a policy within its team's and org's, its own
team's users, and limits and budgets no looser than the key had."""

from __future__ import annotations

from typing import Any

from tollway_admin.key_scope import Ceiling, overreaches
from tollway_common.control import KeyRecord, Limits, Policy, UserRecord

TEAM = Ceiling("team 'ml'", Policy(allow_models=["gpt-4*", "claude-*"], max_tokens_cap=512))
ORG = Ceiling("org 'acme'", Policy(deny_models=["o1*"], max_tokens_cap=16, log_bodies=True))
USERS = {
    "ann": UserRecord(user_id="ann", org_id="acme", team_id="ml"),
    "bob": UserRecord(user_id="bob", org_id="acme", team_id="search"),
}


def _key(**fields: Any) -> KeyRecord:
    return KeyRecord(key_id="k1", name="app", key_hash="h", prefix="tw-", team_id="ml", **fields)


def _params(new: KeyRecord, old: KeyRecord | None = None) -> list[str]:
    return [found.param for found in overreaches(new, old, [TEAM, ORG], USERS)]


def test_the_security_reviews_wide_open_key_is_refused_field_by_field() -> None:
    wide = _key(policy=Policy(allow_models=["*"], max_tokens_cap=1_000_000, log_bodies=False))
    found = overreaches(wide, None, [TEAM, ORG], USERS)
    assert [f.param for f in found] == [
        "policy.allow_models",
        "policy.max_tokens_cap",
        "policy.max_tokens_cap",
        "policy.log_bodies",
    ]
    assert found[0].message == (
        "policy.allow_models ['*'] is wider than team 'ml' allows (['gpt-4*', 'claude-*'])."
    )
    assert found[2].message == "policy.max_tokens_cap 1000000 is above org 'acme''s 16."


def test_a_key_policy_within_the_team_and_org_is_fine() -> None:
    narrow = Policy(allow_models=["gpt-4o", "claude-*"], deny_models=["x"], max_tokens_cap=8)
    assert _params(_key(policy=narrow)) == []
    assert _params(_key(policy=Policy(log_bodies=True))) == []
    assert _params(_key()) == [], "a key with no opinion inherits its team's and org's"


def test_only_what_changes_is_judged() -> None:
    # An admin gave this key a wider cap; the team-admin may still rename it.
    old = _key(policy=Policy(max_tokens_cap=4096))
    assert _params(old.model_copy(update={"name": "renamed"}), old) == []
    assert _params(_key(policy=Policy(max_tokens_cap=8192)), old) == ["policy.max_tokens_cap"] * 2


def test_only_the_teams_own_users_are_attached() -> None:
    assert _params(_key(user_id="ann")) == []
    assert _params(_key(user_id="bob")) == ["user_id"]
    assert _params(_key(user_id="nobody")) == ["user_id"]
    kept = _key(user_id="bob")
    assert _params(kept.model_copy(update={"name": "renamed"}), kept) == []


def test_limits_and_budgets_may_tighten_but_not_loosen() -> None:
    old = _key(
        limits=Limits.model_validate({"rpm": 60, "tpm": 1000, "models": {"m": {"rpm": 5}}}),
        budget_ids=["monthly"],
    )

    def change(**fields: Any) -> list[str]:
        return _params(old.model_copy(update=fields), old)

    tighter = Limits.model_validate(
        {"rpm": 30, "tpm": 1000, "max_parallel": 2, "models": {"m": {"rpm": 1}}}
    )
    assert change(limits=tighter, budget_ids=["monthly", "extra"]) == []
    assert change(limits=Limits()) == ["limits.rpm", "limits.tpm", "limits.models.m.rpm"]
    assert change(limits=old.limits.model_copy(update={"rpm": 61})) == ["limits.rpm"]
    assert change(budget_ids=[]) == ["budget_ids"]
