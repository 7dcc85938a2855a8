"""What an identity may read: admins everything; viewers and team-admins only their own team's
keys and usage, and not the audit log (it records every team's changes and carries no team).
Pure; the key, usage and audit routes and pages apply it."""

from __future__ import annotations

from tollway_admin.security import AdminIdentity, Role
from tollway_common.contract import UsageFilter
from tollway_common.control import KeyRecord
from tollway_common.errors import PermissionDenied


def reads_everything(identity: AdminIdentity) -> bool:
    return Role.ADMIN in identity.roles


def can_read_key(identity: AdminIdentity, key: KeyRecord) -> bool:
    return reads_everything(identity) or (
        bool(identity.team_id) and key.team_id == identity.team_id
    )


def usage_filter(identity: AdminIdentity, flt: UsageFilter) -> UsageFilter:
    """`flt` narrowed to the identity's team; a filter naming another team is refused.

    Raises:
        PermissionDenied: a non-admin without a team, or asking for another team.
    """
    if reads_everything(identity):
        return flt
    if not identity.team_id:
        raise PermissionDenied(
            "Reading usage needs the 'admin' role, or a role in a team (viewer, team-admin)."
        )
    if flt.team_id and flt.team_id != identity.team_id:
        raise PermissionDenied(
            f"Team '{flt.team_id}' is not yours; you read the usage of team "
            f"'{identity.team_id}' only.",
            param="team_id",
        )
    return flt.model_copy(update={"team_id": identity.team_id})


def check_audit_reader(identity: AdminIdentity) -> None:
    """Raises PermissionDenied unless the identity may read the whole audit log."""
    if not reads_everything(identity):
        raise PermissionDenied(
            "The audit log records every team's changes; reading it needs the 'admin' role."
        )
