"""OIDC bearer tokens next to virtual keys: signature, issuer, audience and expiry checked
against a local issuer's JWKS; a key rotation at the issuer is picked up and a slow issuer
holds up no token its cached keys can check; claims become the principal whose team policy
applies, and a token of no known team or org is refused or given the default team. Admin
accepts tokens for its own audience by role, and neither service starts with an issuer but no
audience."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from tests.support.configs import TEST_KEY, gateway_config
from tests.support.fake_openai_server import FakeOpenAIServer
from tests.support.oidc_issuer import AUDIENCE, LocalIssuer
from tests.support.openai_schema import validate_openai
from tests.support.polling import eventually
from tests.support.stack import Stack

from tollway_cli.processes import spawn_module, wait_for_log
from tollway_common.control import OrgRecord, Policy, TeamRecord

ADMIN_TOKEN = "tw-admin-oidc-test-0123456789"
# Edge and admin take tokens for different audiences: one for either is refused by the other.
ADMIN_AUDIENCE = "api://tollway-admin"
CHAT = {"model": "tollway-demo", "messages": [{"role": "user", "content": "hi"}]}
MEMBER = {"team": "ml", "org": "acme"}
RECORDS = {
    "orgs": [OrgRecord(org_id="acme")],
    "teams": [
        TeamRecord(team_id="ml", org_id="acme"),
        TeamRecord(team_id="guests", org_id="acme", policy=Policy(allow_models=["gpt-test"])),
    ],
}


@pytest.fixture
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer() as local:
        yield local


def _oidc_env(prefix: str, issuer: LocalIssuer, audience: str = AUDIENCE) -> dict[str, str]:
    return {
        f"{prefix}_OIDC__ISSUER": issuer.url,
        f"{prefix}_OIDC__AUDIENCE": audience,
        # Refresh on an unknown key id at once, so the rotation test needs no waiting.
        f"{prefix}_OIDC__JWKS_REFRESH_MIN_S": "0",
    }


@pytest.fixture(scope="module")
def module_records(module_stack: Stack, module_upstream: FakeOpenAIServer) -> Stack:
    """The module's stack with org 'acme' and its teams 'ml' and 'guests' (which may use only
    gpt-test). Each test brings its own issuer, so the edges and admins it starts are its own."""
    config = gateway_config(module_stack.workdir, module_upstream.base_url)
    module_stack.apply(config.model_copy(update=RECORDS))
    return module_stack


@pytest.fixture
def records(module_records: Stack) -> Iterator[Stack]:
    """`module_records`; the edges and admins a test starts stop when it ends."""
    started = len(module_records.processes)
    yield module_records
    for process in module_records.processes[started:]:
        process.stop()


@pytest.fixture
async def edge(records: Stack, issuer: LocalIssuer) -> AsyncIterator[httpx.AsyncClient]:
    records.start_edge(name="edge-oidc", **_oidc_env("TOLLWAY_EDGE", issuer))
    async with httpx.AsyncClient(base_url=records.base_url) as client:
        yield client


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def _chat(client: httpx.AsyncClient, token: str, **body: object) -> httpx.Response:
    return await client.post("/chat/completions", json={**CHAT, **body}, headers=_bearer(token))


def _refused(response: httpx.Response, status: int, text: str) -> None:
    assert response.status_code == status, response.text
    validate_openai("ErrorResponse", response.json())
    assert text in response.json()["error"]["message"]


async def test_a_valid_token_and_a_virtual_key_both_work(
    edge: httpx.AsyncClient, issuer: LocalIssuer
) -> None:
    token = issuer.token(MEMBER)
    assert (await _chat(edge, token)).status_code == 200
    assert (await _chat(edge, TEST_KEY)).status_code == 200


async def test_tokens_with_wrong_claims_are_401(
    edge: httpx.AsyncClient, issuer: LocalIssuer
) -> None:
    issuer.keys.add_ec_key("ec-1")
    refusals = [
        (issuer.token(MEMBER, aud="someone-else"), "Audience"),
        (issuer.token({**MEMBER, "roles": ["admin"]}, aud=ADMIN_AUDIENCE), "Audience"),
        (issuer.token(MEMBER, iss="https://evil.example"), "issuer"),
        (issuer.token(MEMBER, exp=1_000_000_000), "expired"),
        (issuer.token(MEMBER, sub=""), "'sub' claim is empty"),
        # RS256, naming the issuer's EC key: a 500 once, from inside the crypto library.
        (issuer.keys.naming("ec-1", MEMBER), "does not match the key's algorithm"),
    ]
    for token, reason in refusals:
        _refused(await _chat(edge, token), 401, reason)
    empty_sub = issuer.token(MEMBER, sub="")
    _refused(await edge.get("/key/info", headers=_bearer(empty_sub)), 401, "'sub' claim")


async def test_a_token_signed_by_another_key_is_401(
    edge: httpx.AsyncClient, issuer: LocalIssuer
) -> None:
    with LocalIssuer() as forged_by:  # the same key id, a different key
        forged = forged_by.token(MEMBER, iss=issuer.url)
    _refused(await _chat(edge, forged), 401, "Signature verification failed")


async def test_a_key_rotation_at_the_issuer_is_picked_up(
    edge: httpx.AsyncClient, issuer: LocalIssuer
) -> None:
    assert (await _chat(edge, issuer.token(MEMBER))).status_code == 200
    fetched = issuer.jwks_requests
    issuer.rotate()
    assert (await _chat(edge, issuer.token(MEMBER))).status_code == 200
    assert issuer.jwks_requests == fetched + 1, "the new key id made the edge fetch the JWKS"


async def test_a_slow_issuer_holds_up_no_token_the_cached_keys_can_check(
    records: Stack, issuer: LocalIssuer
) -> None:
    records.start_edge(
        name="edge-oidc",
        **_oidc_env("TOLLWAY_EDGE", issuer),
        # Keys are stale at once, so every request would refresh them; a failed refresh is
        # not tried again within the test.
        TOLLWAY_EDGE_OIDC__JWKS_TTL_S="0",
        TOLLWAY_EDGE_OIDC__JWKS_BACKOFF_S="600",
    )
    token = issuer.token(MEMBER)
    async with httpx.AsyncClient(base_url=records.base_url) as edge:
        assert (await _chat(edge, token)).status_code == 200
        fetched = issuer.jwks_requests
        with issuer.jwks_held():
            served = [(await _chat(edge, token)).status_code for _ in range(3)]

            async def refreshing() -> None:
                assert issuer.jwks_requests > fetched

            await eventually(refreshing, "the edge's background refresh reached the issuer")
            served += [(await _chat(edge, token)).status_code for _ in range(3)]
            assert served == [200] * 6, "answered from the cached keys"
            assert issuer.jwks_requests == fetched + 1, "one refresh at a time"


async def test_a_token_of_no_known_team_or_org_is_refused_or_gets_the_default_team(
    records: Stack, edge: httpx.AsyncClient, issuer: LocalIssuer
) -> None:
    stranger = issuer.token({"team": "interns", "org": "acme"})
    _refused(await _chat(edge, stranger), 403, "names team 'interns', which this gateway has")
    _refused(await _chat(edge, issuer.token({})), 403, "names no team and no org")
    assert (await _chat(edge, stranger)).json()["error"]["code"] == "unknown_team_or_org"

    records.start_edge(
        name="edge-oidc-default",
        **_oidc_env("TOLLWAY_EDGE", issuer),
        TOLLWAY_EDGE_OIDC_DEFAULT_TEAM="guests",
    )
    async with httpx.AsyncClient(base_url=records.base_url) as defaulted:
        _refused(await _chat(defaulted, stranger), 403, "team 'guests' model policy")
        assert (await _chat(defaulted, stranger, model="gpt-test")).status_code == 200
        info = (await defaulted.get("/key/info", headers=_bearer(stranger))).json()
        assert (info["principal"]["team_id"], info["principal"]["org_id"]) == ("guests", "acme")


async def test_the_tokens_team_policy_applies(
    records: Stack, edge: httpx.AsyncClient, issuer: LocalIssuer
) -> None:
    admin_url = records.start_admin(ADMIN_TOKEN)
    async with httpx.AsyncClient(base_url=admin_url, headers=_bearer(ADMIN_TOKEN)) as admin:
        team = {"team_id": "research", "org_id": "acme", "policy": {"allow_models": ["x"]}}
        assert (await admin.post("/api/v1/teams", json=team)).status_code == 201
    token = issuer.token({"team": "research", "org": "acme"})

    async def decided_by_the_team() -> httpx.Response:
        answer = await _chat(edge, token)
        assert answer.json()["error"]["code"] != "unknown_team_or_org", answer.text
        return answer

    # The edge's mirror takes the new team a moment later.
    answer = await eventually(decided_by_the_team, "the edge knows team 'research'")
    _refused(answer, 403, "team 'research' model policy")


async def test_admin_accepts_tokens_for_its_audience_by_role(
    records: Stack, issuer: LocalIssuer
) -> None:
    admin_url = records.start_admin(
        ADMIN_TOKEN, **_oidc_env("TOLLWAY_ADMIN", issuer, ADMIN_AUDIENCE)
    )
    viewer = issuer.token({"roles": ["viewer"]}, sub="viewer-1", aud=ADMIN_AUDIENCE)
    administrator = issuer.token({"roles": ["admin"]}, sub="admin-1", aud=ADMIN_AUDIENCE)
    nobody = issuer.token({"roles": ["reader-of-other-things"]}, aud=ADMIN_AUDIENCE)
    for_the_edge = issuer.token({"roles": ["admin"]}, sub="admin-1")
    async with httpx.AsyncClient(base_url=admin_url) as admin:
        assert (await admin.get("/api/v1/orgs", headers=_bearer(viewer))).status_code == 200
        refused = await admin.post("/api/v1/orgs", json={"org_id": "x"}, headers=_bearer(viewer))
        _refused(refused, 403, "'admin' role")
        made = await admin.post(
            "/api/v1/orgs", json={"org_id": "x"}, headers=_bearer(administrator)
        )
        assert made.status_code == 201, made.text
        who = (await admin.get("/api/v1/whoami", headers=_bearer(administrator))).json()
        assert who["actor"] == {"kind": "oidc", "id": "admin-1", "roles": ["admin"]}
        _refused(
            await admin.get("/api/v1/orgs", headers=_bearer(nobody)), 403, "no Tollway admin role"
        )
        _refused(await admin.get("/api/v1/orgs", headers=_bearer(for_the_edge)), 401, "Audience")


async def test_admin_with_a_role_mapping_counts_only_mapped_roles(
    records: Stack, issuer: LocalIssuer
) -> None:
    admin_url = records.start_admin(
        ADMIN_TOKEN,
        **_oidc_env("TOLLWAY_ADMIN", issuer, ADMIN_AUDIENCE),
        TOLLWAY_ADMIN_OIDC_ADMIN_ROLES='{"Tollway.Admin": "admin"}',
    )
    raw = issuer.token({"roles": ["admin"]}, aud=ADMIN_AUDIENCE)
    mapped = issuer.token({"roles": ["Tollway.Admin"]}, aud=ADMIN_AUDIENCE)
    async with httpx.AsyncClient(base_url=admin_url) as admin:
        _refused(await admin.get("/api/v1/orgs", headers=_bearer(raw)), 403, "no Tollway admin")
        assert (await admin.get("/api/v1/orgs", headers=_bearer(mapped))).status_code == 200


async def test_admin_takes_any_audience_only_when_told_and_says_so(
    records: Stack, issuer: LocalIssuer
) -> None:
    admin_url = records.start_admin(
        ADMIN_TOKEN,
        TOLLWAY_ADMIN_OIDC__ISSUER=issuer.url,
        TOLLWAY_ADMIN_OIDC__ALLOW_ANY_AUDIENCE="true",
    )
    wait_for_log(records.processes[-1], "are accepted for any audience (allow_any_audience)")
    anyone = issuer.token({"roles": ["viewer"]}, aud="api://another-app")
    async with httpx.AsyncClient(base_url=admin_url) as admin:
        assert (await admin.get("/api/v1/orgs", headers=_bearer(anyone))).status_code == 200


@pytest.mark.parametrize("service", ["edge", "admin"])
def test_an_issuer_without_an_audience_refuses_to_start(tmp_path: Path, service: str) -> None:
    prefix = f"TOLLWAY_{service.upper()}"
    process = spawn_module(
        service,
        f"tollway_{service}",
        {
            f"{prefix}_OIDC__ISSUER": "https://issuer.example",
            f"{prefix}_NATS__URL": "nats://127.0.0.1:9",
        },
        tmp_path,
    )
    try:
        assert process.popen.wait(timeout=60) != 0
    finally:
        process.kill()
    assert "OIDC with an issuer needs an audience" in process.log()
