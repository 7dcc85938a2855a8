"""The control plane end to end: keys issued, used, rotated, expired and revoked through the
admin API take effect on two edge processes at once; policies refuse with their rule; writes
are compare-and-set and validated; no secret reaches KV, the audit trail or a log; a
team-admin sets only what its team allows, and the org's policy holds over any key."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import nats
import pytest
from tests.support.configs import TEST_KEY, UPSTREAM_SECRET
from tests.support.oidc_issuer import AUDIENCE, LocalIssuer
from tests.support.openai_schema import validate_openai
from tests.support.stack import Stack

from tollway_common import contract
from tollway_common.control import Limits

ADMIN_TOKEN = "tw-admin-test-token-0123456789"
CHAT = {"model": "tollway-demo", "messages": [{"role": "user", "content": "hi"}]}
# The issue's bound: a revoked key or an edited route takes effect on every replica within it.
PROPAGATION_S = 1.0


class Control:
    def __init__(self, stack: Stack, admin_url: str, edge_urls: list[str]) -> None:
        self.stack = stack
        self.admin = httpx.AsyncClient(
            base_url=admin_url, headers={"authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        self.edge_urls = edge_urls

    async def chat(self, edge_url: str, key: str, **body: Any) -> httpx.Response:
        async with httpx.AsyncClient(base_url=f"{edge_url}/v1") as client:
            return await client.post(
                "/chat/completions",
                json={**CHAT, **body},
                headers={"authorization": f"Bearer {key}"},
            )

    async def statuses(self, key: str, **body: Any) -> list[int]:
        return [(await self.chat(url, key, **body)).status_code for url in self.edge_urls]

    async def until_every_edge_answers(self, key: str, status: int) -> float:
        """Seconds until both edges answer `key` with `status`; fails after PROPAGATION_S."""
        started = time.monotonic()
        while (await self.statuses(key)) != [status, status]:
            assert time.monotonic() - started < PROPAGATION_S, await self.statuses(key)
            await asyncio.sleep(0.02)
        return time.monotonic() - started


@pytest.fixture(scope="module")
def control_plane(module_stack: Stack) -> tuple[str, list[str]]:
    """A second edge and admin on the module's stack, once: each test writes records of its
    own names. Admin's URL and both edges'."""
    first = module_stack.edge_url
    module_stack.start_edge(name="edge-2")
    admin_url = module_stack.start_admin(ADMIN_TOKEN)
    return admin_url, [first, module_stack.edge_url]


@pytest.fixture
async def control(
    module_stack: Stack, control_plane: tuple[str, list[str]]
) -> AsyncIterator[Control]:
    admin_url, edge_urls = control_plane
    control = Control(module_stack, admin_url, edge_urls)
    yield control
    await control.admin.aclose()


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["x-request-id"], "edge and admin errors carry a request id"
    body: dict[str, Any] = response.json()
    validate_openai("ErrorResponse", body)
    assert body["error"]["code"] == code
    return body


async def test_a_key_is_issued_used_rotated_and_revoked_on_every_edge(control: Control) -> None:
    created = await control.admin.post("/api/v1/keys", json={"name": "app"})
    assert created.status_code == 201, created.text
    issued = created.json()
    secret = issued["key"]
    assert "key_hash" not in issued
    assert secret.startswith(issued["prefix"])
    await control.until_every_edge_answers(secret, 200)

    shown = (await control.admin.get(f"/api/v1/keys/{issued['key_id']}")).json()
    assert "key" not in shown, "the secret is shown once, at creation"
    assert "key_hash" not in shown

    rotated = await control.admin.post(
        f"/api/v1/keys/{issued['key_id']}/rotate", json={"grace_s": 2}
    )
    assert rotated.status_code == 201, rotated.text
    new_secret = rotated.json()["key"]
    await control.until_every_edge_answers(new_secret, 200)
    assert await control.statuses(secret) == [200, 200], "the old key works during the grace"
    old = (await control.admin.get(f"/api/v1/keys/{issued['key_id']}")).json()
    assert old["rotated_to"] == rotated.json()["key_id"]
    await asyncio.sleep(max(0.0, old["expires_at"] - time.time()))
    await control.until_every_edge_answers(secret, 401)
    expired = await control.chat(control.edge_urls[0], secret)
    assert "expired" in _error(expired, 401, "invalid_api_key")["error"]["message"]

    revoked = await control.admin.post(f"/api/v1/keys/{rotated.json()['key_id']}/revoke")
    assert revoked.status_code == 200, revoked.text
    await control.until_every_edge_answers(new_secret, 401)
    refused = await control.chat(control.edge_urls[1], new_secret)
    assert "revoked" in _error(refused, 401, "invalid_api_key")["error"]["message"]


async def test_an_edited_route_takes_effect_on_every_edge(control: Control) -> None:
    model = {
        "name": "live-alias",
        "deployments": [{"name": "live-fake", "provider": "fake", "model": "live-1"}],
    }
    added = await control.admin.post("/api/v1/models", json=model)
    assert added.status_code == 201, added.text
    started = time.monotonic()
    while True:
        codes = await control.statuses(TEST_KEY, model="live-alias")
        if codes == [200, 200]:
            break
        assert time.monotonic() - started < PROPAGATION_S, codes
        await asyncio.sleep(0.02)
    removed = await control.admin.delete("/api/v1/models/live-alias")
    assert removed.status_code == 204, removed.text
    started = time.monotonic()
    while (codes := await control.statuses(TEST_KEY, model="live-alias")) != [404, 404]:
        assert time.monotonic() - started < PROPAGATION_S, codes
        await asyncio.sleep(0.02)


async def test_org_team_and_key_policies_refuse_naming_their_rule(control: Control) -> None:
    admin = control.admin
    org = {"org_id": "acme", "name": "Acme", "policy": {"deny_models": ["gpt-impatient"]}}
    team = {"team_id": "ml", "org_id": "acme", "policy": {"allow_models": ["gpt-*"]}}
    assert (await admin.post("/api/v1/orgs", json=org)).status_code == 201
    assert (await admin.post("/api/v1/teams", json=team)).status_code == 201
    in_team = (
        await admin.post(
            "/api/v1/keys",
            json={"name": "ml-app", "team_id": "ml", "policy": {"max_tokens_cap": 50}},
        )
    ).json()
    assert in_team["org_id"] == "acme", "the org follows from the team"
    in_org = (await admin.post("/api/v1/keys", json={"name": "acme-app", "org_id": "acme"})).json()
    edge = control.edge_urls[0]
    await control.until_every_edge_answers(in_org["key"], 200)

    allowed = await control.chat(edge, in_team["key"], model="gpt-test")
    assert allowed.status_code == 200, allowed.text
    by_team = await control.chat(edge, in_team["key"])
    message = _error(by_team, 403, "model_not_allowed")["error"]["message"]
    assert "team 'ml' model policy" in message
    # The team's allow list matches it, but the org's deny is a ceiling the team cannot lift.
    by_org = await control.chat(edge, in_team["key"], model="gpt-impatient")
    assert "org 'acme' model policy" in _error(by_org, 403, "model_not_allowed")["error"]["message"]
    capped = await control.chat(edge, in_team["key"], model="gpt-test", max_tokens=100)
    body = _error(capped, 400, "invalid_value")
    assert "key 'ml-app' max_tokens cap" in body["error"]["message"]
    assert body["error"]["param"] == "max_completion_tokens"

    async with httpx.AsyncClient(base_url=f"{edge}/v1") as client:
        listed = await client.get("/models", headers={"authorization": f"Bearer {in_team['key']}"})
    assert [m["id"] for m in listed.json()["data"]] == ["gpt-test"]


async def test_writes_are_validated_and_compare_and_set(control: Control) -> None:
    admin = control.admin
    orphan = await admin.post("/api/v1/teams", json={"team_id": "t1", "org_id": "nowhere"})
    assert "unknown org 'nowhere'" in _error(orphan, 400, "invalid_value")["error"]["message"]
    clash = {
        "name": "second-demo",
        "deployments": [{"name": "demo-fake", "provider": "fake", "model": "x"}],
    }
    duplicate = await admin.post("/api/v1/models", json=clash)
    assert (
        "deployment name 'demo-fake'" in _error(duplicate, 400, "invalid_value")["error"]["message"]
    )
    malformed = await admin.post("/api/v1/models", json={"name": "m", "deployments": []})
    _error(malformed, 400, "invalid_value")
    plaintext = {
        "name": "m",
        "deployments": [{"name": "d", "provider": "openai", "model": "x", "api_key": "sk-live"}],
    }
    _error(await admin.post("/api/v1/models", json=plaintext), 400, "invalid_value")
    typo = {"name": "m", "deployments": [{"name": "d", "provider": "anthropc", "model": "x"}]}
    for response, param in (
        (await admin.post("/api/v1/models", json=typo), "deployments.0.provider"),
        (
            await admin.put("/api/v1/config", json={"models": [typo]}),
            "models.0.deployments.0.provider",
        ),
    ):
        refused = _error(response, 400, "invalid_value")["error"]
        assert refused["param"] == param
        assert refused["message"] == (
            "Input should be 'openai', 'azure_openai', 'anthropic' or 'fake'"
        )
    unknown_flag = {
        "name": "m",
        "deployments": [
            {"name": "d", "provider": "fake", "model": "x", "capabilities": {"eyes": True}}
        ],
    }
    refused = _error(await admin.post("/api/v1/models", json=unknown_flag), 400, "invalid_value")
    assert refused["error"]["param"] == "deployments.0.capabilities.eyes"
    declared = {
        "name": "seeing",
        "deployments": [
            {"name": "s", "provider": "fake", "model": "x", "capabilities": {"vision": False}}
        ],
    }
    assert (await admin.post("/api/v1/models", json=declared)).status_code == 201
    shown = (await admin.get("/api/v1/models/seeing")).json()["deployments"][0]
    assert shown["capabilities"] == {
        "vision": False,
        "tools": None,
        "thinking": None,
        "structured_outputs": None,
    }

    assert (await admin.post("/api/v1/orgs", json={"org_id": "o1"})).status_code == 201
    _error(await admin.post("/api/v1/orgs", json={"org_id": "o1"}), 409, "conflict")
    assert (
        await admin.post("/api/v1/teams", json={"team_id": "t1", "org_id": "o1"})
    ).status_code == 201
    in_use = await admin.delete("/api/v1/orgs/o1")
    assert "team 't1'" in _error(in_use, 409, "conflict")["error"]["message"]

    read = (await admin.get("/api/v1/orgs/o1")).json()
    first = await admin.put(
        "/api/v1/orgs/o1",
        json={"org_id": "o1", "name": "One"},
        headers={"if-match": str(read["revision"])},
    )
    assert first.status_code == 200, first.text
    stale = await admin.put(
        "/api/v1/orgs/o1",
        json={"org_id": "o1", "name": "Uno"},
        headers={"if-match": str(read["revision"])},
    )
    _error(stale, 409, "conflict")
    assert (await admin.get("/api/v1/orgs/o1")).json()["name"] == "One"

    async with httpx.AsyncClient(base_url=str(admin.base_url)) as anonymous:
        _error(await anonymous.get("/api/v1/keys"), 401, "invalid_api_key")
        wrong = await anonymous.get("/api/v1/keys", headers={"authorization": "Bearer nope"})
        _error(wrong, 401, "invalid_api_key")


async def _bucket_values(nats_url: str) -> bytes:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        found = b""
        for bucket in (
            contract.KV_KEYS,
            contract.KV_MODELS,
            contract.KV_ORGS,
            contract.KV_TEAMS,
            contract.KV_USERS,
            contract.KV_PRICES,
        ):
            kv = await js.key_value(bucket)
            for entry in await _history(kv):
                found += entry
        return found
    finally:
        await nc.close()


async def _history(kv: Any) -> list[bytes]:
    try:
        names = await kv.keys()
    except nats.js.errors.NoKeysError:
        return []
    values: list[bytes] = []
    for name in names:
        values.extend(entry.value or b"" for entry in await kv.history(name))
    return values


async def _audit_events(nats_url: str) -> list[contract.AuditEvent]:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        subscription = await js.pull_subscribe(contract.AUDIT_SUBJECT, durable=None)
        events: list[contract.AuditEvent] = []
        while True:
            try:
                batch = await subscription.fetch(100, timeout=0.5)
            # nats-py raises its own TimeoutError or asyncio's, depending on where the wait
            # ran out; both are TimeoutError.
            except TimeoutError:
                return events
            events.extend(contract.decode_audit_event(message.data) for message in batch)
    finally:
        await nc.close()


async def test_changes_are_audited_and_no_secret_is_stored_or_logged(control: Control) -> None:
    created = (await control.admin.post("/api/v1/keys", json={"name": "audited"})).json()
    secret = created["key"]
    await control.until_every_edge_answers(secret, 200)
    await control.admin.post(f"/api/v1/keys/{created['key_id']}/revoke")

    events = await _audit_events(control.stack.nats.url_as("test"))
    mine = [e for e in events if e.resource_id == created["key_id"]]
    assert [e.action for e in mine] == ["key.create", "key.update"]
    assert mine[1].before is not None
    assert mine[1].after is not None
    assert mine[1].before["revoked_at"] == 0
    assert mine[1].after["revoked_at"] > 0
    assert mine[0].actor.kind == "bootstrap"
    assert mine[0].after is not None
    assert mine[0].after["key_hash"] == "[redacted]"

    stored = await _bucket_values(control.stack.nats.url_as("test"))
    audit = b"".join(contract.encode(event) for event in events)
    logs = control.stack.logs().encode()
    for plaintext in (secret, TEST_KEY, UPSTREAM_SECRET, ADMIN_TOKEN):
        assert plaintext.encode() not in stored
        assert plaintext.encode() not in audit
        assert plaintext.encode() not in logs


async def test_a_key_holder_sees_their_own_scopes_and_limits(control: Control) -> None:
    admin = control.admin
    assert (await admin.post("/api/v1/orgs", json={"org_id": "initech"})).status_code == 201
    team = {"team_id": "data", "org_id": "initech", "limits": {"rpm": 600}}
    assert (await admin.post("/api/v1/teams", json=team)).status_code == 201
    budget = {"budget_id": "monthly-data", "amount": "25.00"}
    assert (await admin.post("/api/v1/budgets", json=budget)).status_code == 201
    body = {
        "name": "self",
        "team_id": "data",
        "policy": {"allow_models": ["tollway-demo"]},
        "limits": {"rpm": 60, "tpm": 10000},
        "budget_ids": ["monthly-data"],
    }
    created = await admin.post("/api/v1/keys", json=body)
    assert created.status_code == 201, created.text
    issued = created.json()
    await control.until_every_edge_answers(issued["key"], 200)
    async with httpx.AsyncClient(base_url=f"{control.edge_urls[0]}/v1") as client:
        response = await client.get(
            "/key/info", headers={"authorization": f"Bearer {issued['key']}"}
        )
        anonymous = await client.get("/key/info")
    assert response.status_code == 200, response.text
    info = response.json()
    assert info["key"]["key_id"] == issued["key_id"]
    assert info["principal"]["team_id"] == "data"
    assert info["principal"]["org_id"] == "initech"
    assert info["policies"][0] == {"level": "key 'self'", "allow_models": ["tollway-demo"]}
    assert info["limits"] == {"key": {"rpm": 60, "tpm": 10000}, "team": {"rpm": 600}, "org": {}}
    (budget,) = info["budgets"]
    assert (budget["owner"], budget["budget_id"], budget["amount"]) == (
        "key 'self'",
        "monthly-data",
        "25.00",
    )
    assert budget["spent"] == "0", "tollway-demo has no price here, so nothing is charged"
    assert budget["period_start"] < time.time() < budget["period_end"]
    assert info["usage_this_month"] is None, "no metering runs in this test: said, not guessed"
    assert issued["key"] not in response.text
    assert "key_hash" not in response.text
    _error(anonymous, 401, "invalid_api_key")


async def _until_answered(edge: httpx.AsyncClient, key: str) -> None:
    """Poll until the edge has the new key (its catalog watch applies it)."""
    started = time.monotonic()
    while True:
        response = await edge.get("/models", headers={"authorization": f"Bearer {key}"})
        if response.status_code == 200:
            return
        assert time.monotonic() - started < 10, response.text
        await asyncio.sleep(0.02)


async def test_a_team_admin_sets_only_what_its_team_allows_and_the_org_holds(
    stack: Stack,
) -> None:
    """The security review's escape: a team-admin's key with `allow_models: ["*"]`, a cap of a
    million and body logging off reached a model its org denies, above the org's cap of 16."""
    with LocalIssuer() as issuer:
        admin_url = stack.start_admin(
            ADMIN_TOKEN,
            TOLLWAY_ADMIN_OIDC__ISSUER=issuer.url,
            TOLLWAY_ADMIN_OIDC__AUDIENCE=AUDIENCE,
        )
        team_admin = issuer.token({"roles": ["team-admin"], "team": "ml"}, sub="lead-1")
        async with (
            httpx.AsyncClient(
                base_url=admin_url, headers={"authorization": f"Bearer {ADMIN_TOKEN}"}
            ) as admin,
            httpx.AsyncClient(
                base_url=admin_url, headers={"authorization": f"Bearer {team_admin}"}
            ) as lead,
            httpx.AsyncClient(base_url=stack.base_url) as edge,
        ):
            org_policy = {"deny_models": ["gpt-impatient"], "max_tokens_cap": 16}
            for path, record in [
                ("orgs", {"org_id": "acme", "policy": {**org_policy, "log_bodies": True}}),
                ("teams", {"team_id": "ml", "org_id": "acme"}),
                ("teams", {"team_id": "search", "org_id": "acme"}),
                ("users", {"user_id": "ann", "org_id": "acme", "team_id": "ml"}),
                ("users", {"user_id": "bob", "org_id": "acme", "team_id": "search"}),
                ("budgets", {"budget_id": "monthly", "amount": "25.00"}),
            ]:
                made = await admin.post(f"/api/v1/{path}", json=record)
                assert made.status_code == 201, made.text
            wide = {"allow_models": ["*"], "max_tokens_cap": 1_000_000, "log_bodies": False}

            refused = await lead.post(
                "/api/v1/keys", json={"name": "mine", "team_id": "ml", "policy": wide}
            )
            error = _error(refused, 403, "policy_refused")["error"]
            assert error["param"] == "policy.max_tokens_cap"
            assert "above org 'acme''s 16" in error["message"]
            assert "cannot turn off the body logging org 'acme' turns on" in error["message"]
            foreign = await lead.post(
                "/api/v1/keys", json={"name": "bobs", "team_id": "ml", "user_id": "bob"}
            )
            assert _error(foreign, 403, "policy_refused")["error"]["param"] == "user_id"
            mine = await lead.post(
                "/api/v1/keys", json={"name": "anns", "team_id": "ml", "user_id": "ann"}
            )
            assert mine.status_code == 201, mine.text

            # An admin may issue the wide key; the edge still holds it to its org.
            limited = {"limits": {"rpm": 600}, "budget_ids": ["monthly"]}
            issued = await admin.post(
                "/api/v1/keys", json={"name": "wide", "team_id": "ml", "policy": wide, **limited}
            )
            assert issued.status_code == 201, issued.text
            key_id, secret = issued.json()["key_id"], issued.json()["key"]
            for change, param in [
                ({"limits": {}}, "limits.rpm"),
                ({"budget_ids": []}, "budget_ids"),
                ({"limits": {"rpm": 6000}}, "limits.rpm"),
            ]:
                stripped = await lead.patch(f"/api/v1/keys/{key_id}", json=change)
                assert _error(stripped, 403, "policy_refused")["error"]["param"] == param
            renamed = await lead.patch(f"/api/v1/keys/{key_id}", json={"name": "wide-2"})
            assert renamed.status_code == 200, renamed.text
            assert renamed.json()["limits"] == {**Limits().model_dump(mode="json"), "rpm": 600}

            await _until_answered(edge, secret)
            auth = {"authorization": f"Bearer {secret}"}
            denied = await edge.post(
                "/chat/completions", json={**CHAT, "model": "gpt-impatient"}, headers=auth
            )
            assert (
                "org 'acme' model policy"
                in _error(denied, 403, "model_not_allowed")["error"]["message"]
            )
            for path, body in [
                ("/chat/completions", {**CHAT, "max_tokens": 17}),
                ("/completions", {"model": "tollway-demo", "prompt": "hi", "max_tokens": 17}),
                ("/chat/completions", {**CHAT, "max_tokens": 10, "n": 2}),
            ]:
                capped = await edge.post(path, json=body, headers=auth)
                assert (
                    "org 'acme' max_tokens cap"
                    in _error(capped, 400, "invalid_value")["error"]["message"]
                ), body
            answered = await edge.post("/chat/completions", json=CHAT, headers=auth)
            assert answered.status_code == 200, answered.text
            listed = await edge.get("/models", headers=auth)
            assert "gpt-impatient" not in [m["id"] for m in listed.json()["data"]]
