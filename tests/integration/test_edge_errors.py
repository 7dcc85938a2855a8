"""Every bad input gets OpenAI error JSON with the right status and an x-request-id."""

from __future__ import annotations

import httpx
import pytest
from tests.support.configs import LIMITED_KEY
from tests.support.openai_schema import validate_openai
from tests.support.stack import Stack

CHAT = {"model": "tollway-demo", "messages": [{"role": "user", "content": "Hi"}]}


def _check(response: httpx.Response, status: int, code: str, param: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["x-request-id"]
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    validate_openai("ErrorResponse", body)
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    if param is not None:
        assert body["error"]["param"] == param


async def test_missing_key_is_401(shared_stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=shared_stack.base_url) as client:
        response = await client.post("/chat/completions", json=CHAT)
    _check(response, 401, "invalid_api_key")


async def test_wrong_key_is_401(shared_stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=shared_stack.base_url) as client:
        response = await client.post(
            "/chat/completions",
            json=CHAT,
            headers={"authorization": "Bearer sk-not-a-real-key-123"},
        )
    _check(response, 401, "invalid_api_key")


@pytest.mark.parametrize("header", ["api-key", "x-api-key"])
async def test_azure_and_anthropic_key_headers_work(
    shared_stack: Stack, api_key: str, header: str
) -> None:
    async with httpx.AsyncClient(base_url=shared_stack.base_url) as client:
        response = await client.post("/chat/completions", json=CHAT, headers={header: api_key})
    assert response.status_code == 200


async def test_unknown_model_is_404(shared_stack: Stack, api_key: str) -> None:
    async with httpx.AsyncClient(base_url=shared_stack.base_url) as client:
        response = await client.post(
            "/chat/completions",
            json={**CHAT, "model": "no-such-model"},
            headers={"authorization": f"Bearer {api_key}"},
        )
    _check(response, 404, "model_not_found", param="model")


async def test_model_outside_the_keys_allowlist_is_403(shared_stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=shared_stack.base_url) as client:
        response = await client.post(
            "/chat/completions",
            json={**CHAT, "model": "gpt-test"},
            headers={"authorization": f"Bearer {LIMITED_KEY}"},
        )
    _check(response, 403, "model_not_allowed", param="model")


# Each kind of malformed body is a case of tests/unit/edge/test_inference.py; these two prove
# the refusal reaches the client as a 400 (never FastAPI's 422) with its param.
@pytest.mark.parametrize(
    ("content", "param"),
    [
        (b"{not json", None),
        (b'{"model": "tollway-demo", "messages": [{}], "max_tokens": 0}', "max_tokens"),
    ],
)
async def test_malformed_body_is_400_never_422(
    shared_stack: Stack, api_key: str, content: bytes, param: str | None
) -> None:
    async with httpx.AsyncClient(base_url=shared_stack.base_url) as client:
        response = await client.post(
            "/chat/completions",
            content=content,
            headers={"authorization": f"Bearer {api_key}", "content-type": "application/json"},
        )
    _check(response, 400, "invalid_value", param=param)


async def test_oversized_body_is_413(shared_stack: Stack, api_key: str) -> None:
    big = "x" * (9 * 1024 * 1024)
    async with httpx.AsyncClient(base_url=shared_stack.base_url) as client:
        response = await client.post(
            "/chat/completions",
            json={**CHAT, "messages": [{"role": "user", "content": big}]},
            headers={"authorization": f"Bearer {api_key}"},
        )
    _check(response, 413, "payload_too_large")


async def test_unknown_path_is_an_openai_shaped_404(shared_stack: Stack, api_key: str) -> None:
    async with httpx.AsyncClient(base_url=shared_stack.base_url) as client:
        response = await client.get("/nothing-here", headers={"authorization": f"Bearer {api_key}"})
    _check(response, 404, "not_found")
