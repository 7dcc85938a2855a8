"""What a team-admin may set on a key of its team: a policy within its team's and org's (levels
are ceilings, as the edge combines them), users of its own team, and limits and budgets no
looser than the key had. Admins may set anything; the edge holds every key to its team's and
org's policy regardless, so these checks say early and clearly what would not take effect, and
guard what only the edge's levels cannot: a key's own limits, budgets and user.

The gateway does not record who set which limit, so a team-admin may tighten a key's limits
and add budgets but neither loosen nor remove any. Pure checks over control-plane records;
`routes/keys.py` applies them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from tollway_common.control import KeyRecord, Limits, Policy, RateLimit, UserRecord

_LIMIT_FIELDS = ("rpm", "tpm", "share", "max_parallel", "max_parallel_per_client")


@dataclass(frozen=True, slots=True)
class Ceiling:
    """A level above the key, and how to name it: `team 'ml'`."""

    name: str
    policy: Policy


@dataclass(frozen=True, slots=True)
class Overreach:
    """A change a team-admin may not make: the field (`policy.allow_models`) and why."""

    param: str
    message: str


def overreaches(
    new: KeyRecord,
    old: KeyRecord | None,
    ceilings: Sequence[Ceiling],
    users: Mapping[str, UserRecord],
) -> list[Overreach]:
    """What in `new` a team-admin may not set; `old` is the key before the change (None for a
    new key). Only what changes is judged, so a key an admin made wider stays editable."""
    found = _policy_overreaches(new.policy, old.policy if old else Policy(), ceilings)
    if new.user_id and (old is None or new.user_id != old.user_id):
        user = users.get(new.user_id)
        if user is None or user.team_id != new.team_id:
            found.append(
                Overreach(
                    "user_id",
                    f"user '{new.user_id}' is not in team '{new.team_id}'; a team-admin attaches "
                    "only its own team's users.",
                )
            )
    if old is not None:
        found += _limit_overreaches(new.limits, old.limits)
        found += [
            Overreach(
                "budget_ids",
                f"removing budget '{budget_id}' from the key needs the 'admin' role.",
            )
            for budget_id in old.budget_ids
            if budget_id not in new.budget_ids
        ]
    return found


def _policy_overreaches(new: Policy, old: Policy, ceilings: Sequence[Ceiling]) -> list[Overreach]:
    changed = {name for name in Policy.model_fields if getattr(new, name) != getattr(old, name)}
    found: list[Overreach] = []
    for ceiling in ceilings:
        found += _wider_lists(new, changed, ceiling) + _higher_caps(new, changed, ceiling)
        if "log_bodies" in changed and new.log_bodies is False and ceiling.policy.log_bodies:
            found.append(
                Overreach(
                    "policy.log_bodies",
                    f"policy.log_bodies false cannot turn off the body logging {ceiling.name} "
                    "turns on.",
                )
            )
    return found


def _wider_lists(new: Policy, changed: set[str], ceiling: Ceiling) -> list[Overreach]:
    found: list[Overreach] = []
    for field in ("allow_models", "allow_endpoints"):
        patterns: list[str] | None = getattr(new, field)
        allowed: list[str] | None = getattr(ceiling.policy, field)
        if field not in changed or patterns is None or allowed is None:
            continue
        wider = [pattern for pattern in patterns if not _within(pattern, allowed)]
        if wider:
            found.append(
                Overreach(
                    f"policy.{field}",
                    f"policy.{field} {wider} is wider than {ceiling.name} allows ({allowed}).",
                )
            )
    return found


def _higher_caps(new: Policy, changed: set[str], ceiling: Ceiling) -> list[Overreach]:
    found: list[Overreach] = []
    for field in ("max_tokens_cap", "max_prompt_tokens"):
        value: int | None = getattr(new, field)
        cap: int | None = getattr(ceiling.policy, field)
        if field in changed and value is not None and cap is not None and value > cap:
            found.append(
                Overreach(
                    f"policy.{field}", f"policy.{field} {value} is above {ceiling.name}'s {cap}."
                )
            )
    return found


def _within(pattern: str, allowed: Sequence[str]) -> bool:
    # A key's pattern is within a ceiling's when one of the ceiling's patterns matches its
    # text: `gpt-4o*` is within `gpt-4*`, `*` only within `*`. The edge intersects anyway.
    return any(fnmatchcase(pattern, ceiling) for ceiling in allowed)


def _limit_overreaches(new: Limits, old: Limits) -> list[Overreach]:
    found = [
        Overreach(f"limits.{field}", _loosened(f"limits.{field}", old_value))
        for field in _LIMIT_FIELDS
        if _looser(getattr(new, field), old_value := getattr(old, field))
    ]
    for alias, old_model in old.models.items():
        new_model = new.models.get(alias, RateLimit())
        for field in ("rpm", "tpm"):
            old_value = getattr(old_model, field)
            if _looser(getattr(new_model, field), old_value):
                name = f"limits.models.{alias}.{field}"
                found.append(Overreach(name, _loosened(name, old_value)))
    return found


def _looser(new: float | None, old: float | None) -> bool:
    return old is not None and (new is None or new > old)


def _loosened(name: str, old: float | None) -> str:
    return f"raising or removing {name} (now {old}) needs the 'admin' role."
