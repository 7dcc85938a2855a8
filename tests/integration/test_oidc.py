"""OIDC bearer tokens next to virtual keys: signature, issuer, audience and expiry checked
against a local issuer's JWKS; a key rotation at the issuer is picked up; claims become the
principal whose team policy applies. Admin accepts tokens by role."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from tests.support.configs import TEST_KEY
from tests.support.oidc_issuer import AUDIENCE, LocalIssuer
from tests.support.openai_schema import validate_openai
from tests.support.stack import Stack

ADMIN_TOKEN = "tw-admin-oidc-test-0123456789"
CHAT = {"model": "tollway-demo", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def module_issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer() as local:
        yield local


@pytest.fixture
def issuer(module_issuer: LocalIssuer) -> LocalIssuer:
    """The module's issuer, shared with its edge. Tests on it leave its keys alone; the one that
    rotates them takes `own_issuer` and a stack of its own."""
    return module_issuer


@pytest.fixture
def own_issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer() as local:
        yield local


def _oidc_env(prefix: str, issuer: LocalIssuer) -> dict[str, str]:
    return {
        f"{prefix}_OIDC__ISSUER": issuer.url,
        f"{prefix}_OIDC__AUDIENCE": AUDIENCE,
        # Refresh on an unknown key id at once, so the rotation test needs no waiting.
        f"{prefix}_OIDC__JWKS_REFRESH_MIN_S": "0",
    }


@pytest.fixture(scope="module")
def module_oidc_edge(module_stack: Stack, module_issuer: LocalIssuer) -> str:
    module_stack.start_edge(name="edge-oidc", **_oidc_env("TOLLWAY_EDGE", module_issuer))
    return module_stack.base_url


@pytest.fixture
async def edge(shared_stack: Stack, module_oidc_edge: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=module_oidc_edge) as client:
        yield client


@pytest.fixture
async def own_edge(stack: Stack, own_issuer: LocalIssuer) -> AsyncIterator[httpx.AsyncClient]:
    stack.start_edge(name="edge-oidc", **_oidc_env("TOLLWAY_EDGE", own_issuer))
    async with httpx.AsyncClient(base_url=stack.base_url) as client:
        yield client


async def _chat(client: httpx.AsyncClient, token: str, **body: object) -> httpx.Response:
    return await client.post(
        "/chat/completions", json={**CHAT, **body}, headers={"authorization": f"Bearer {token}"}
    )


def _refused(response: httpx.Response, status: int, text: str) -> None:
    assert response.status_code == status, response.text
    validate_openai("ErrorResponse", response.json())
    assert text in response.json()["error"]["message"]


async def test_a_valid_token_and_a_virtual_key_both_work(
    edge: httpx.AsyncClient, issuer: LocalIssuer
) -> None:
    token = issuer.token({"team": "ml", "org": "acme"})
    assert (await _chat(edge, token)).status_code == 200
    assert (await _chat(edge, TEST_KEY)).status_code == 200


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"aud": "someone-else"}, "Audience"),
        ({"iss": "https://evil.example"}, "issuer"),
        ({"exp": 1_000_000_000}, "expired"),
    ],
)
async def test_tokens_with_wrong_claims_are_401(
    edge: httpx.AsyncClient, issuer: LocalIssuer, claims: dict[str, object], reason: str
) -> None:
    token = issuer.token({}, **claims)
    _refused(await _chat(edge, token), 401, reason)


async def test_a_token_signed_by_another_key_is_401(
    edge: httpx.AsyncClient, issuer: LocalIssuer
) -> None:
    with LocalIssuer() as forged_by:  # the same key id, a different key
        forged = forged_by.token({}, iss=issuer.url)
    _refused(await _chat(edge, forged), 401, "Signature verification failed")


async def test_a_key_rotation_at_the_issuer_is_picked_up(
    own_edge: httpx.AsyncClient, own_issuer: LocalIssuer
) -> None:
    edge, issuer = own_edge, own_issuer
    assert (await _chat(edge, issuer.token({}))).status_code == 200
    fetched = issuer.jwks_requests
    issuer.rotate()
    assert (await _chat(edge, issuer.token({}))).status_code == 200
    assert issuer.jwks_requests == fetched + 1, "the new key id made the edge fetch the JWKS"


async def test_the_tokens_team_policy_applies(
    shared_stack: Stack, edge: httpx.AsyncClient, issuer: LocalIssuer
) -> None:
    # Not ml/acme: the first test's token names those and must meet no policy.
    admin_url = shared_stack.start_admin(ADMIN_TOKEN)
    async with httpx.AsyncClient(
        base_url=admin_url, headers={"authorization": f"Bearer {ADMIN_TOKEN}"}
    ) as admin:
        assert (await admin.post("/api/v1/orgs", json={"org_id": "initech"})).status_code == 201
        team = {"team_id": "tps", "org_id": "initech", "policy": {"allow_models": ["gpt-test"]}}
        assert (await admin.post("/api/v1/teams", json=team)).status_code == 201
    token = issuer.token({"team": "tps", "org": "initech"})
    _refused(await _chat(edge, token), 403, "team 'tps' model policy")


async def test_admin_accepts_tokens_by_role(shared_stack: Stack, issuer: LocalIssuer) -> None:
    admin_url = shared_stack.start_admin(ADMIN_TOKEN, **_oidc_env("TOLLWAY_ADMIN", issuer))
    viewer = issuer.token({"roles": ["viewer"]}, sub="viewer-1")
    administrator = issuer.token({"roles": ["admin"]}, sub="admin-1")
    nobody = issuer.token({"roles": ["reader-of-other-things"]})
    async with httpx.AsyncClient(base_url=admin_url) as admin:

        def bearer(token: str) -> dict[str, str]:
            return {"authorization": f"Bearer {token}"}

        assert (await admin.get("/api/v1/orgs", headers=bearer(viewer))).status_code == 200
        refused = await admin.post("/api/v1/orgs", json={"org_id": "x"}, headers=bearer(viewer))
        _refused(refused, 403, "'admin' role")
        made = await admin.post("/api/v1/orgs", json={"org_id": "x"}, headers=bearer(administrator))
        assert made.status_code == 201, made.text
        who = (await admin.get("/api/v1/whoami", headers=bearer(administrator))).json()
        assert who["actor"] == {"kind": "oidc", "id": "admin-1", "roles": ["admin"]}
        _refused(
            await admin.get("/api/v1/orgs", headers=bearer(nobody)), 403, "no Tollway admin role"
        )
