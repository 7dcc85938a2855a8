from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from starlette.datastructures import Headers
from tests.support.edge_fakes import catalog, runtime
from tests.support.oidc_keys import AUDIENCE, Clock, FakeJwks, SigningKeys

from tollway_common.control import KeyRecord, Limits, OrgRecord, Policy, TeamRecord, hash_key
from tollway_common.errors import PermissionDenied
from tollway_common.oidc import OidcSettings, OidcVerifier, TokenClaims
from tollway_edge.auth import TokenAuth, authenticate, presented_key, principal_of, token_owner


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"authorization": "Bearer sk-1"}, "sk-1"),
        ({"authorization": "bearer  sk-2 "}, "sk-2"),
        ({"api-key": "sk-azure"}, "sk-azure"),
        ({"x-api-key": "sk-anthropic"}, "sk-anthropic"),
        ({"authorization": "Basic abc"}, None),
        ({}, None),
    ],
)
def test_key_is_read_from_the_headers_clients_use(
    headers: dict[str, str], expected: str | None
) -> None:
    assert presented_key(Headers(headers)) == expected


RECORD = KeyRecord(
    key_id="key_1",
    name="app",
    key_hash=hash_key("sk-x"),
    prefix="sk-x",
    policy=Policy(allow_models=["a"]),
    team_id="t",
)


def test_principal_carries_the_keys_ownership() -> None:
    principal = principal_of(RECORD)
    assert (principal.key_id, principal.key_name, principal.team_id) == ("key_1", "app", "t")


ISSUER = "https://issuer.example"
ACME = OrgRecord(org_id="acme", policy=Policy(deny_models=["b"]))
ML = TeamRecord(team_id="ml", org_id="acme", limits=Limits(rpm=5))
GUESTS = TeamRecord(team_id="guests", org_id="acme", policy=Policy(allow_models=["small"]))
TEAMS = {team.team_id: team for team in (ML, GUESTS)}
ORGS = {"acme": ACME}


def _claims(team: str = "", org: str = "") -> TokenClaims:
    return TokenClaims(subject="u", user_id="u", team_id=team, org_id=org, roles=())


@pytest.mark.parametrize(
    ("team", "org", "default", "owner"),
    [
        ("ml", "acme", None, ("ml", "acme")),
        ("ml", "", None, ("ml", "acme")),
        ("", "acme", None, ("", "acme")),
        ("nope", "acme", "guests", ("guests", "acme")),
        ("", "nope", "guests", ("guests", "acme")),
        ("", "", "guests", ("guests", "acme")),
        ("ml", "", "guests", ("ml", "acme")),
    ],
)
def test_a_token_is_held_by_a_team_or_org_on_record(
    team: str, org: str, default: str | None, owner: tuple[str, str]
) -> None:
    assert token_owner(_claims(team, org), TEAMS, ORGS, default) == owner


@pytest.mark.parametrize(
    ("team", "org", "default", "message"),
    [
        ("nope", "acme", None, "The token names team 'nope', which this gateway has no record"),
        ("", "nope", None, "The token names org 'nope', which this gateway has no record"),
        ("", "", None, "The token names no team and no org, so no policy, limits or budgets"),
        ("nope", "", "gone", "and the default team 'gone' set for such tokens does not exist"),
        ("ml", "other", None, "names team 'ml' and org 'other', but the team belongs to org"),
    ],
)
def test_a_token_held_by_no_record_is_refused(
    team: str, org: str, default: str | None, message: str
) -> None:
    with pytest.raises(PermissionDenied, match=message) as refused:
        token_owner(_claims(team, org), TEAMS, ORGS, default)
    assert refused.value.body().code == "unknown_team_or_org"


@pytest.fixture
def keys() -> SigningKeys:
    return SigningKeys(ISSUER)


@pytest.fixture
async def verifier(keys: SigningKeys) -> AsyncIterator[OidcVerifier]:
    settings = OidcSettings(issuer=ISSUER, audience=AUDIENCE)
    verifier = OidcVerifier(settings, fetch_jwks=FakeJwks(keys), clock=Clock())
    yield verifier
    await verifier.close()


def _bearer(token: str) -> Headers:
    return Headers({"authorization": f"Bearer {token}"})


async def test_a_token_caller_gets_its_teams_policy_limits_and_org(
    keys: SigningKeys, verifier: OidcVerifier
) -> None:
    edge = runtime(catalog(teams=[ML, GUESTS], orgs=[ACME]))
    token = keys.token({"team": "ml"})
    caller = await authenticate(_bearer(token), edge.catalog, TokenAuth(verifier))
    assert (caller.principal.team_id, caller.principal.org_id) == ("ml", "acme")
    assert [level.name for level in caller.levels] == ["team 'ml'", "org 'acme'"]
    assert [owner.label for owner in edge.gate.owners(caller)] == ["team 'ml'"]


async def test_a_token_of_an_unknown_team_gets_the_default_teams_policy(
    keys: SigningKeys, verifier: OidcVerifier
) -> None:
    edge = runtime(catalog(teams=[ML, GUESTS], orgs=[ACME]))
    token = keys.token({"team": "interns"})
    caller = await authenticate(_bearer(token), edge.catalog, TokenAuth(verifier, "guests"))
    assert caller.principal.team_id == "guests"
    assert [level.policy for level in caller.levels] == [GUESTS.policy, ACME.policy]


async def test_a_token_of_an_unknown_team_is_refused_without_a_default(
    keys: SigningKeys, verifier: OidcVerifier
) -> None:
    edge = runtime(catalog(teams=[ML], orgs=[ACME]))
    with pytest.raises(PermissionDenied, match="names team 'interns'"):
        await authenticate(
            _bearer(keys.token({"team": "interns"})), edge.catalog, TokenAuth(verifier)
        )
