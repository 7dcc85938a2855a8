"""The names the usage page shows for the ids usage rows carry (keys, teams, users, orgs),
read from admin's control-plane mirror; the id stays the row's identity (shown on hover and in
exports). An id whose record is gone, or that has no name, shows as itself."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from tollway_admin.resources import KEYS, ORGS, TEAMS, USERS
from tollway_admin.store import ControlStore
from tollway_common.control import KeyRecord, OrgRecord, TeamRecord, UserRecord


def _name(record: KeyRecord | TeamRecord | UserRecord | OrgRecord | None) -> str:
    return record.name if record is not None else ""


# The dimensions whose ids have records with names; the others (models, providers,
# deployments, credentials) are names already.
_NAMERS: dict[str, Callable[[ControlStore, str], str]] = {
    "key_id": lambda store, key_id: _name(store.find(KEYS, key_id)),
    "team_id": lambda store, team_id: _name(store.find(TEAMS, team_id)),
    "user_id": lambda store, user_id: _name(store.find(USERS, user_id)),
    "org_id": lambda store, org_id: _name(store.find(ORGS, org_id)),
}


def names(store: ControlStore, dimension: str, ids: Iterable[str]) -> dict[str, str]:
    """Id -> name for the `ids` of `dimension` that have a name."""
    namer = _NAMERS.get(dimension)
    if namer is None:
        return {}
    found = {public_id: namer(store, public_id) for public_id in ids if public_id}
    return {public_id: name for public_id, name in found.items() if name}
