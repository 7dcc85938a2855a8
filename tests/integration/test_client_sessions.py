"""Client sessions through the whole stack, against a real Redis: one client over its key's
per-client parallel limit is refused in its own shape (OpenAI and Anthropic SDKs), another
client on the same key is not; admin lists the sessions (API and key page), a revoked client is
refused with 403 on its next request, and a session leaves the listing when its requests end."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from anthropic import AsyncAnthropic
from openai import AsyncOpenAI
from tests.support.anthropic_schema import validate_anthropic
from tests.support.fake_openai_server import FakeOpenAIServer, Fault
from tests.support.openai_schema import validate_openai
from tests.support.polling import eventually
from tests.support.stack import Stack

ADMIN_TOKEN = "tw-admin-sessions-test-0123456789"
MODEL = "gpt-test"
HELLO: list[Any] = [{"role": "user", "content": "hi"}]


@pytest.fixture
async def admin(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    # Plain HTTP on loopback: the sign-in cookie may not be Secure here.
    url = stack.start_admin(ADMIN_TOKEN, TOLLWAY_ADMIN_COOKIE_SECURE="false")
    async with httpx.AsyncClient(
        base_url=url, headers={"authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30
    ) as client:
        yield client


def _openai(stack: Stack, key: str, agent: str) -> AsyncOpenAI:
    return AsyncOpenAI(
        base_url=stack.base_url, api_key=key, max_retries=0, default_headers={"User-Agent": agent}
    )


def _anthropic(stack: Stack, key: str, agent: str) -> AsyncAnthropic:
    return AsyncAnthropic(
        base_url=stack.edge_url, api_key=key, max_retries=0, default_headers={"User-Agent": agent}
    )


async def _issue_key(admin: httpx.AsyncClient, stack: Stack) -> tuple[str, str]:
    issued = await admin.post(
        "/api/v1/keys", json={"name": "shared-app", "limits": {"max_parallel_per_client": 2}}
    )
    assert issued.status_code == 201, issued.text
    key_id, secret = issued.json()["key_id"], issued.json()["key"]

    async def known() -> None:
        async with _openai(stack, secret, "probe") as probe:
            await probe.models.list()

    await eventually(known, "the edge knows the new key")
    return key_id, secret


async def _sessions(admin: httpx.AsyncClient, key_id: str) -> list[dict[str, Any]]:
    listed = await admin.get(f"/api/v1/keys/{key_id}/sessions")
    assert listed.status_code == 200, listed.text
    data: list[dict[str, Any]] = listed.json()["data"]
    return data


async def _hold_stream(client: AsyncOpenAI) -> Any:
    """A streamed answer left unread: its request stays in flight until it is closed."""
    return await client.chat.completions.create(model=MODEL, messages=HELLO, stream=True)


async def test_sessions_are_limited_listed_revoked_and_end_with_their_requests(
    stack: Stack, fake_upstream: FakeOpenAIServer, admin: httpx.AsyncClient
) -> None:
    key_id, key = await _issue_key(admin, stack)
    # About 40 s per stream: long enough to stay in flight while the test looks at them.
    fake_upstream.fault = Fault("slow_stream", delay_s=0.4)
    async with (
        _openai(stack, key, "client-a") as a,
        _anthropic(stack, key, "client-a") as a_claude,
        _openai(stack, key, "client-b") as b,
    ):
        a_streams = [await _hold_stream(a), await _hold_stream(a)]
        b_stream = await _hold_stream(b)

        with pytest.raises(openai.RateLimitError) as over:
            await a.chat.completions.create(model=MODEL, messages=HELLO)
        validate_openai("ErrorResponse", over.value.response.json())
        assert "parallel requests from one client: limit 2" in over.value.message
        with pytest.raises(anthropic.RateLimitError) as over_claude:
            await a_claude.messages.create(model=MODEL, max_tokens=16, messages=HELLO)
        validate_anthropic("ErrorResponse", over_claude.value.response.json())

        answer = await b.chat.completions.create(model=MODEL, messages=HELLO)
        assert answer.choices[0].message.content, "another client on the same key is served"

        listed = await _sessions(admin, key_id)
        assert [(s["user_agent"], s["in_flight"]) for s in listed] == [
            ("client-a", 2),
            ("client-b", 1),
        ]
        now_ms = time.time() * 1000
        assert all(0 < s["since_ms"] <= now_ms and s["revoked_until_ms"] == 0 for s in listed)
        client_a = listed[0]["client"]
        assert re.fullmatch(r"[0-9a-f]{16}", client_a)

        await b_stream.close()

        async def only_a_listed() -> None:
            assert [s["user_agent"] for s in await _sessions(admin, key_id)] == ["client-a"]

        await eventually(only_a_listed, "client-b's session ends with its request")

        revoked = await admin.post(
            f"/api/v1/keys/{key_id}/sessions/{client_a}/revoke", json={"seconds": 120}
        )
        assert revoked.status_code == 200, revoked.text
        (after,) = revoked.json()["data"]
        assert after["client"] == client_a
        assert now_ms + 100_000 < after["revoked_until_ms"] <= time.time() * 1000 + 120_000

        with pytest.raises(openai.PermissionDeniedError) as refused:
            await a.chat.completions.create(model=MODEL, messages=HELLO)
        validate_openai("ErrorResponse", refused.value.response.json())
        assert refused.value.code == "session_revoked"
        with pytest.raises(anthropic.PermissionDeniedError) as refused_claude:
            await a_claude.messages.create(model=MODEL, max_tokens=16, messages=HELLO)
        validate_anthropic("ErrorResponse", refused_claude.value.response.json())
        assert "revoked" in refused_claude.value.message
        assert (await b.chat.completions.create(model=MODEL, messages=HELLO)).choices

        page = await _revoke_from_the_key_page(admin, key_id, client_a, 3600)
        assert "client-a" in page
        assert f"Client {client_a} refused with this key for 3600 s." in page
        (longer,) = await _sessions(admin, key_id)
        assert longer["revoked_until_ms"] > after["revoked_until_ms"] + 3_000_000
        after = longer

        for stream in a_streams:
            await stream.close()
    fake_upstream.fault = None

    async def nothing_in_flight() -> None:
        (still,) = await _sessions(admin, key_id)
        assert (still["client"], still["in_flight"]) == (client_a, 0)
        assert still["revoked_until_ms"] == after["revoked_until_ms"], "listed while revoked"

    await eventually(nothing_in_flight, "client-a's requests end")


async def _revoke_from_the_key_page(
    admin: httpx.AsyncClient, key_id: str, client: str, seconds: int
) -> str:
    """Sign in, find the client on the key's page, press its revoke button; the page after."""
    async with httpx.AsyncClient(base_url=str(admin.base_url), follow_redirects=True) as browser:
        signed_in = await browser.post("/admin/login", data={"token": ADMIN_TOKEN})
        assert signed_in.status_code == 200, signed_in.text
        page = await browser.get(f"/admin/keys/{key_id}")
        assert page.status_code == 200
        action = f"/admin/keys/{key_id}/sessions/{client}/revoke"
        assert f'action="{action}"' in page.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        after = await browser.post(action, data={"csrf": csrf.group(1), "seconds": str(seconds)})
        assert after.status_code == 200
        return after.text


async def test_revoking_checks_its_input_and_unknown_sessions(
    stack: Stack, admin: httpx.AsyncClient
) -> None:
    key_id, _ = await _issue_key(admin, stack)
    path = f"/api/v1/keys/{key_id}/sessions"
    assert await _sessions(admin, key_id) == []
    malformed = await admin.post(f"{path}/not-a-client/revoke")
    assert malformed.status_code == 400
    validate_openai("ErrorResponse", malformed.json())
    unknown = await admin.post(f"{path}/0123456789abcdef/revoke", json={"seconds": 60})
    assert unknown.status_code == 404
    assert "no session" in unknown.json()["error"]["message"]
    too_long = await admin.post(f"{path}/0123456789abcdef/revoke", json={"seconds": 10**9})
    assert too_long.status_code == 400
    no_key = await admin.get("/api/v1/keys/key_missing/sessions")
    assert no_key.status_code == 404
