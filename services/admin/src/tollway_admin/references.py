"""Whole-state checks that single records cannot make on their own: references between orgs,
teams, users, keys, models and prices, and deployment names unique across aliases.

A write is refused when it would add a problem the state did not have before, so an old
inconsistency never blocks unrelated edits.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from tollway_common.control import (
    Budget,
    KeyRecord,
    ModelAlias,
    OrgRecord,
    Price,
    TeamRecord,
    UserRecord,
)


@dataclass(frozen=True)
class ControlState:
    orgs: dict[str, OrgRecord]
    teams: dict[str, TeamRecord]
    users: dict[str, UserRecord]
    models: dict[str, ModelAlias]
    prices: dict[str, Price]
    budgets: dict[str, Budget]
    keys: dict[str, KeyRecord]

    def with_(self, **changes: object) -> ControlState:
        return replace(self, **changes)  # type: ignore[arg-type]


def problems(state: ControlState) -> set[str]:
    return _ownership_problems(state) | _budget_problems(state) | _catalog_problems(state)


def _ownership_problems(state: ControlState) -> set[str]:
    found: set[str] = set()
    for team in state.teams.values():
        if team.org_id not in state.orgs:
            found.add(f"team '{team.team_id}' belongs to unknown org '{team.org_id}'")
    for user in state.users.values():
        found |= _owner_problems(f"user '{user.user_id}'", user.org_id, user.team_id, state)
    for key in state.keys.values():
        if key.org_id or key.team_id:
            found |= _owner_problems(f"key '{key.name}'", key.org_id, key.team_id, state)
        if key.user_id and key.user_id not in state.users:
            found.add(f"key '{key.name}' belongs to unknown user '{key.user_id}'")
    return found


def _budget_problems(state: ControlState) -> set[str]:
    found: set[str] = set()
    owners: list[tuple[str, list[str]]] = [
        *((f"org '{o.org_id}'", o.budget_ids) for o in state.orgs.values()),
        *((f"team '{t.team_id}'", t.budget_ids) for t in state.teams.values()),
        *((f"key '{k.name}'", k.budget_ids) for k in state.keys.values()),
    ]
    for who, budget_ids in owners:
        found |= {
            f"{who} names unknown budget '{budget_id}'"
            for budget_id in budget_ids
            if budget_id not in state.budgets
        }
    for budget in state.budgets.values():
        for alias in (budget.model, budget.downshift_to):
            if alias is not None and alias not in state.models:
                found.add(f"budget '{budget.budget_id}' names unknown model '{alias}'")
    return found


def _catalog_problems(state: ControlState) -> set[str]:
    found: set[str] = set()
    for price in state.prices.values():
        if price.model not in state.models:
            found.add(f"price for unknown model '{price.model}'")
    for model in state.models.values():
        for alias in sorted(model.fallback_aliases()):
            if alias == model.name:
                found.add(f"model '{model.name}' names itself as a fallback")
            elif alias not in state.models:
                found.add(f"model '{model.name}' falls back to unknown model '{alias}'")
    deployments = Counter(d.name for m in state.models.values() for d in m.deployments)
    for name, count in deployments.items():
        if count > 1:
            found.add(f"deployment name '{name}' is used by more than one model or twice")
    return found


def _owner_problems(who: str, org_id: str, team_id: str, state: ControlState) -> set[str]:
    found: set[str] = set()
    if org_id and org_id not in state.orgs:
        found.add(f"{who} belongs to unknown org '{org_id}'")
    if team_id:
        team = state.teams.get(team_id)
        if team is None:
            found.add(f"{who} belongs to unknown team '{team_id}'")
        elif org_id and team.org_id != org_id:
            found.add(
                f"{who} names team '{team_id}', which is in org '{team.org_id}', not '{org_id}'"
            )
    return found


def new_problems(before: ControlState, after: ControlState) -> list[str]:
    return sorted(problems(after) - problems(before))
