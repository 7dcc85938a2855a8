"""The admin checks who is calling before anything else: an anonymous page view asks metering
nothing, and an anonymous API call is refused before its body is read."""

from __future__ import annotations

import asyncio
import socket
import time

import httpx
import pytest
from tests.support.analytics import analytics_asked
from tests.support.openai_schema import validate_openai
from tests.support.stack import Stack

ADMIN_TOKEN = "tw-admin-gate-test-0123456789"


@pytest.fixture(scope="module")
def admin_url(module_stack: Stack) -> str:
    """One admin for the module: neither test changes anything in it."""
    return module_stack.start_admin(ADMIN_TOKEN)


async def test_an_anonymous_page_view_asks_metering_nothing(
    module_stack: Stack, admin_url: str
) -> None:
    async with (
        analytics_asked(module_stack.nats.url_as("test")) as asked,
        httpx.AsyncClient(base_url=admin_url) as client,
    ):
        for path in ("/admin", "/admin/overview/live", "/admin/usage", "/admin/keys/k1"):
            response = await client.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"] == "/admin/login"
    assert asked == []


def _response_head(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
        return received


async def test_an_anonymous_api_call_is_refused_before_its_body_is_read(admin_url: str) -> None:
    url = admin_url
    port = int(url.rsplit(":", 1)[1])
    # A head announcing a megabyte that never comes: the refusal cannot wait for the body.
    head = (
        b"POST /api/v1/keys HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        b"content-length: 1000000\r\n\r\n{"
    )
    started = time.monotonic()
    answer = await asyncio.to_thread(_response_head, port, head)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert time.monotonic() - started < 5, "answered at once, not after the body deadline"
    async with httpx.AsyncClient(base_url=url) as client:
        refused = await client.get("/api/v1/keys", headers={"authorization": "Bearer wrong"})
        assert refused.status_code == 401
        validate_openai("ErrorResponse", refused.json())
        assert refused.headers["x-request-id"]
        signed_in = await client.get(
            "/api/v1/keys", headers={"authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        assert signed_in.status_code == 200
