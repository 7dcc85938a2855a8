"""A provider that quotes the gateway's own key in its error text: the client gets the error,
never the key."""

from __future__ import annotations

import httpx
import openai
import pytest
from tests.support.configs import UPSTREAM_SECRET
from tests.support.fake_openai_server import FakeOpenAIServer, Fault
from tests.support.openai_schema import validate_openai
from tests.support.stack import Stack


@pytest.mark.parametrize("status", [400, 500])
async def test_an_upstream_echoing_our_key_is_redacted(
    stack: Stack, api_key: str, fake_upstream: FakeOpenAIServer, status: int
) -> None:
    echo = {
        "error": {
            "message": f"Key {UPSTREAM_SECRET} (sent as 'Authorization: Bearer "
            f"{UPSTREAM_SECRET}') is not allowed to use this model.",
            "type": "invalid_request_error",
            "code": "model_not_allowed_for_key",
        }
    }
    fake_upstream.fault = Fault("status", status=status, body=echo)
    body = {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]}
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        response = await client.post(
            "/chat/completions", json=body, headers={"authorization": f"Bearer {api_key}"}
        )
    assert response.status_code in (400, 502), response.text
    validate_openai("ErrorResponse", response.json())
    assert UPSTREAM_SECRET not in response.text
    assert "upstream-secret" not in response.text
    assert "[redacted]" in response.json()["error"]["message"]

    async with openai.AsyncOpenAI(base_url=stack.base_url, api_key=api_key, max_retries=0) as sdk:
        with pytest.raises(openai.APIStatusError) as raised:
            await sdk.chat.completions.create(
                model="gpt-test", messages=[{"role": "user", "content": "hi"}]
            )
    assert UPSTREAM_SECRET not in str(raised.value)
