"""An operator switches a deployment off and on through the admin API: routers stop and
resume sending it traffic, no router overwrites the operator's word, and each switch is
audited."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import nats
import pytest
from tests.support.configs import TEST_KEY
from tests.support.fake_openai_server import FakeOpenAIServer
from tests.support.openai_schema import validate_openai
from tests.support.stack import Stack
from tests.support.usage_stream import health_records

from tollway_common import contract
from tollway_common.contract import HealthState

ADMIN_TOKEN = "tw-admin-health-token-0123456789"
CHAT = {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]}
HEALTH = "/api/v1/models/gpt-test/deployments/fake-openai/health"


@pytest.fixture
async def admin(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    url = stack.start_admin(ADMIN_TOKEN)
    async with httpx.AsyncClient(
        base_url=url, headers={"authorization": f"Bearer {ADMIN_TOKEN}"}
    ) as client:
        yield client


async def _chat_status(stack: Stack) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.base_url) as client:
        return await client.post(
            "/chat/completions", json=CHAT, headers={"authorization": f"Bearer {TEST_KEY}"}
        )


async def _until_status(stack: Stack, status: int) -> httpx.Response:
    for _ in range(50):
        response = await _chat_status(stack)
        if response.status_code == status:
            return response
        await asyncio.sleep(0.05)
    raise AssertionError(f"still {response.status_code}: {response.text}")


async def _audit_actions(nats_url: str) -> list[tuple[str, str]]:
    nc = await nats.connect(nats_url)
    try:
        # A loaded machine may take seconds to create the consumer.
        js = nc.jetstream(timeout=15)
        subscription = await js.pull_subscribe(contract.AUDIT_SUBJECT, durable=None)
        found: list[tuple[str, str]] = []
        while True:
            try:
                batch = await subscription.fetch(100, timeout=0.5)
            except TimeoutError:  # nats-py's or asyncio's, by where the wait ran out
                return found
            for message in batch:
                event = contract.decode_audit_event(message.data)
                found.append((event.action, event.resource_id))
    finally:
        await nc.close()


async def test_a_disabled_deployment_takes_no_traffic_until_enabled(
    stack: Stack, admin: httpx.AsyncClient, fake_upstream: FakeOpenAIServer
) -> None:
    disabled = await admin.put(HEALTH, json={"state": "inactive", "reason": "maintenance"})
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["operator"] is True
    assert disabled.json()["updated_by"] == "bootstrap-token"

    refused = await _until_status(stack, 502)
    validate_openai("ErrorResponse", refused.json())
    assert "maintenance" in refused.json()["error"]["message"]
    assert fake_upstream.requests == []
    (record,) = await health_records(stack.nats.url_as("test"), "gpt-test")
    assert (record.state, record.operator, record.reason) == (
        HealthState.INACTIVE,
        True,
        "maintenance",
    )
    shown = (await admin.get("/api/v1/models/gpt-test/health")).json()["data"]
    assert [(r["deployment"], r["state"]) for r in shown] == [("fake-openai", "inactive")]

    enabled = await admin.put(HEALTH, json={"state": "active"})
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["operator"] is False
    await _until_status(stack, 200)
    assert len(fake_upstream.requests) >= 1

    actions = await _audit_actions(stack.nats.url_as("test"))
    health = [a for a in actions if a[0].startswith("deployment_health.")]
    assert health == [
        ("deployment_health.disable", "gpt-test/fake-openai"),
        ("deployment_health.enable", "gpt-test/fake-openai"),
    ]


async def test_an_unknown_deployment_or_a_router_state_is_refused(
    admin: httpx.AsyncClient,
) -> None:
    missing = await admin.put(
        "/api/v1/models/gpt-test/deployments/nope/health", json={"state": "inactive"}
    )
    assert missing.status_code == 404
    assert "no deployment 'nope'" in missing.json()["error"]["message"]
    no_model = await admin.get("/api/v1/models/nope/health")
    assert no_model.status_code == 404
    router_state = await admin.put(HEALTH, json={"state": "rate_limited"})
    assert router_state.status_code == 400
    validate_openai("ErrorResponse", router_state.json())


async def test_switching_needs_the_admin_token(admin: httpx.AsyncClient) -> None:
    anonymous = await admin.put(HEALTH, json={"state": "inactive"}, headers={"authorization": ""})
    assert anonymous.status_code == 401
