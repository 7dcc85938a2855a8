"""What viewers and team-admins read through the admin API: their own team's keys and usage
only (admins everything), and never a key hash from the config export."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from tests.support.oidc_issuer import AUDIENCE, LocalIssuer
from tests.support.openai_schema import validate_openai
from tests.support.stack import Stack

from tollway_common.control import hash_key

ADMIN_TOKEN = "tw-admin-read-scope-0123456789"


@dataclass
class Readers:
    admin: httpx.AsyncClient
    viewer: httpx.AsyncClient
    lead: httpx.AsyncClient
    keys: dict[str, str]  # team -> key id


@dataclass
class Setup:
    url: str
    issuer: LocalIssuer
    keys: dict[str, str]  # team -> key id


@pytest.fixture(scope="module")
def setup(module_stack: Stack) -> Iterator[Setup]:
    """Admin with org 'acme', teams 'ml' and 'search' and a key each, once for the module: the
    tests only read, or issue a key of no team, which no reader of team 'ml' may see."""
    with LocalIssuer() as issuer:
        url = module_stack.start_admin(
            ADMIN_TOKEN,
            TOLLWAY_ADMIN_OIDC__ISSUER=issuer.url,
            TOLLWAY_ADMIN_OIDC__AUDIENCE=AUDIENCE,
        )
        with httpx.Client(
            base_url=url, headers={"authorization": f"Bearer {ADMIN_TOKEN}"}
        ) as admin:
            keys = {}
            made = admin.post("/api/v1/orgs", json={"org_id": "acme"})
            assert made.status_code == 201, made.text
            for team in ("ml", "search"):
                made = admin.post("/api/v1/teams", json={"team_id": team, "org_id": "acme"})
                assert made.status_code == 201, made.text
                issued = admin.post("/api/v1/keys", json={"name": team, "team_id": team})
                assert issued.status_code == 201, issued.text
                keys[team] = issued.json()["key_id"]
        yield Setup(url, issuer, keys)


@pytest.fixture
async def readers(setup: Setup) -> AsyncIterator[Readers]:
    viewer = setup.issuer.token({"roles": ["viewer"], "team": "ml"}, sub="viewer-1")
    lead = setup.issuer.token({"roles": ["team-admin"], "team": "ml"}, sub="lead-1")

    def client(token: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=setup.url, headers={"authorization": f"Bearer {token}"})

    async with client(ADMIN_TOKEN) as admin, client(viewer) as v, client(lead) as t:
        yield Readers(admin, v, t, setup.keys)


async def test_viewers_and_team_admins_list_only_their_teams_keys(readers: Readers) -> None:
    everything = await readers.admin.get("/api/v1/keys")
    assert {"ml", "search"} <= {k["team_id"] for k in everything.json()["data"]}
    for reader in (readers.viewer, readers.lead):
        listed = await reader.get("/api/v1/keys")
        assert [k["key_id"] for k in listed.json()["data"]] == [readers.keys["ml"]]
        own = await reader.get(f"/api/v1/keys/{readers.keys['ml']}")
        assert own.status_code == 200
        other = await reader.get(f"/api/v1/keys/{readers.keys['search']}")
        assert other.status_code == 404, "another team's key is not confirmed to exist"
        validate_openai("ErrorResponse", other.json())


async def test_usage_of_another_team_is_refused(readers: Readers) -> None:
    for reader in (readers.viewer, readers.lead):
        for path in ("/api/v1/usage/summary", "/api/v1/usage/export"):
            refused = await reader.get(path, params={"team_id": "search"})
            assert refused.status_code == 403, refused.text
            validate_openai("ErrorResponse", refused.json())
            assert refused.json()["error"]["param"] == "team_id"


async def test_the_config_export_is_for_admins_and_shows_no_key_hash(readers: Readers) -> None:
    assert (await readers.viewer.get("/api/v1/config")).status_code == 403
    exported = await readers.admin.get("/api/v1/config")
    assert exported.status_code == 200
    assert "key_hash" not in exported.text
    assert "keys" not in exported.json()
    assert {t["team_id"] for t in exported.json()["teams"]} == {"ml", "search"}


async def test_a_key_id_shows_nothing_of_the_keys_hash(readers: Readers) -> None:
    issued = (await readers.admin.post("/api/v1/keys", json={"name": "fresh"})).json()
    digest = hash_key(issued["key"])
    assert issued["key_id"].removeprefix("key_") not in digest


async def test_the_audit_log_is_for_admins_only(readers: Readers) -> None:
    """It records every team's changes and carries no team to narrow it by."""
    for reader in (readers.viewer, readers.lead):
        for path in ("/api/v1/audit", "/api/v1/audit/export"):
            refused = await reader.get(path)
            assert refused.status_code == 403, refused.text
            validate_openai("ErrorResponse", refused.json())
    assert (await readers.admin.get("/api/v1/audit")).status_code != 403
