"""The /v1 endpoints Tollway does not offer, called as clients call them: an OpenAI-shaped 404
that names the capability, after authentication; any other /v1 path a 404 `not_found`."""

from __future__ import annotations

import httpx
import openai
import pytest
from openai import AsyncOpenAI
from tests.support.openai_schema import validate_openai
from tests.support.stack import Stack


def _client(stack: Stack, key: str) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=stack.base_url, api_key=key, max_retries=0)


async def test_vector_stores_name_the_missing_capability(shared_stack: Stack, api_key: str) -> None:
    async with _client(shared_stack, api_key) as client:
        with pytest.raises(openai.NotFoundError) as refused:
            await client.vector_stores.list()
    validate_openai("ErrorResponse", refused.value.response.json())
    assert refused.value.code == "unsupported_endpoint"
    assert "vector stores" in refused.value.message
    assert refused.value.response.headers["x-request-id"]


async def test_listing_stored_chat_completions_names_the_capability(
    shared_stack: Stack, api_key: str
) -> None:
    async with _client(shared_stack, api_key) as client:
        with pytest.raises(openai.NotFoundError) as refused:
            await client.chat.completions.list()
    assert refused.value.code == "unsupported_endpoint"
    assert "stored chat completions" in refused.value.message


async def test_custom_voices_name_the_capability(shared_stack: Stack, api_key: str) -> None:
    # Speech, transcriptions and translations are served; the rest of /v1/audio is not.
    async with _client(shared_stack, api_key) as client:
        with pytest.raises(openai.NotFoundError) as refused:
            await client.audio.voices.create(
                audio_sample=("me.wav", b"RIFF", "audio/wav"), consent="cons_1", name="me"
            )
    assert refused.value.code == "unsupported_endpoint"
    assert "custom voices" in refused.value.message


async def test_an_unserved_endpoint_asks_for_a_key_first(shared_stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=shared_stack.base_url) as http:
        missing = await http.post("/audio/voices", json={"name": "x"})
        wrong = await http.get(
            "/fine_tuning/jobs", headers={"authorization": "Bearer sk-not-a-key-0123456789"}
        )
    for response in (missing, wrong):
        assert response.status_code == 401
        validate_openai("ErrorResponse", response.json())
        assert response.json()["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize(("method", "path"), [("GET", "/nonsense"), ("POST", "/chat/other")])
async def test_an_unknown_v1_path_is_an_openai_shaped_not_found(
    shared_stack: Stack, api_key: str, method: str, path: str
) -> None:
    async with httpx.AsyncClient(base_url=shared_stack.base_url) as http:
        response = await http.request(method, path, headers={"authorization": f"Bearer {api_key}"})
    assert response.status_code == 404
    validate_openai("ErrorResponse", response.json())
    assert response.json()["error"]["code"] == "not_found"
    assert f"/v1{path}" in response.json()["error"]["message"]
