"""Who reads which team's keys and usage."""

from __future__ import annotations

import pytest

from tollway_admin import read_scope
from tollway_admin.security import AdminIdentity, Role
from tollway_common.contract import AuditActor, UsageFilter
from tollway_common.control import KeyRecord
from tollway_common.errors import PermissionDenied


def _identity(role: Role, team_id: str = "") -> AdminIdentity:
    actor = AuditActor(kind="user", id="someone", roles=[role.value])
    return AdminIdentity(actor=actor, roles=frozenset({role}), team_id=team_id)


def _key(team_id: str) -> KeyRecord:
    return KeyRecord(key_id=f"k-{team_id}", name="k", key_hash="h", prefix="p", team_id=team_id)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.TEAM_ADMIN])
def test_a_team_member_reads_its_own_teams_keys_only(role: Role) -> None:
    identity = _identity(role, "ml")
    assert read_scope.can_read_key(identity, _key("ml"))
    assert not read_scope.can_read_key(identity, _key("search"))
    assert not read_scope.can_read_key(identity, _key(""))
    assert not read_scope.can_read_key(_identity(role), _key(""))


def test_an_admin_reads_everything() -> None:
    admin = _identity(Role.ADMIN)
    assert read_scope.can_read_key(admin, _key("search"))
    assert read_scope.usage_filter(admin, UsageFilter()) == UsageFilter()


def test_usage_is_narrowed_to_the_own_team_and_other_teams_refused() -> None:
    viewer = _identity(Role.VIEWER, "ml")
    assert read_scope.usage_filter(viewer, UsageFilter(since_ms=5)) == UsageFilter(
        since_ms=5, team_id="ml"
    )
    with pytest.raises(PermissionDenied, match="not yours"):
        read_scope.usage_filter(viewer, UsageFilter(team_id="search"))
    with pytest.raises(PermissionDenied, match="role in a team"):
        read_scope.usage_filter(_identity(Role.VIEWER), UsageFilter())
