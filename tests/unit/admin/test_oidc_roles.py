from __future__ import annotations

import pytest

from tollway_admin.oidc_roles import identity_from_claims, roles_from_claims
from tollway_admin.security import Role
from tollway_common.errors import PermissionDenied
from tollway_common.oidc import TokenClaims

MAPPING = {"Tollway.Admin": Role.ADMIN, "Tollway.Reader": Role.VIEWER}


@pytest.mark.parametrize(
    ("claimed", "mapping", "roles"),
    [
        (("admin", "viewer", "something-else"), {}, {Role.ADMIN, Role.VIEWER}),
        (("Tollway.Reader", "other"), MAPPING, {Role.VIEWER}),
        # With a mapping, our own names are just names the issuer may mean anything by.
        (("admin", "team-admin"), MAPPING, set()),
        (("admin", "Tollway.Reader"), MAPPING, {Role.VIEWER}),
    ],
)
def test_roles_come_from_the_mapping_when_there_is_one(
    claimed: tuple[str, ...], mapping: dict[str, Role], roles: set[Role]
) -> None:
    assert roles_from_claims(claimed, mapping) == roles


def test_a_raw_admin_role_under_a_mapping_is_no_admin() -> None:
    claims = TokenClaims(subject="s", user_id="s", team_id="", org_id="", roles=("admin",))
    with pytest.raises(PermissionDenied, match="carries no Tollway admin role"):
        identity_from_claims(claims, MAPPING)
