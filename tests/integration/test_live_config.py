"""Control-plane changes in NATS KV reach a running edge and router without a restart."""

from __future__ import annotations

import asyncio

import httpx
from tests.support.configs import gateway_config
from tests.support.fake_openai_server import FakeOpenAIServer
from tests.support.stack import Stack

from tollway_common.control import Deployment, ModelAlias

_ATTEMPTS = 100


async def test_a_model_added_to_kv_is_served_without_restart(
    stack: Stack, api_key: str, fake_upstream: FakeOpenAIServer
) -> None:
    added = ModelAlias(
        name="added-later",
        deployments=[Deployment(name="added-fake", provider="fake", model="demo-2")],
    )
    stack.apply(gateway_config(stack.workdir, fake_upstream.base_url, extra_models=[added]))
    body = {"model": "added-later", "messages": [{"role": "user", "content": "hi"}]}
    async with httpx.AsyncClient(base_url=stack.base_url) as client:
        for _ in range(_ATTEMPTS):
            response = await client.post(
                "/chat/completions", json=body, headers={"authorization": f"Bearer {api_key}"}
            )
            if response.status_code == 200:
                break
            await asyncio.sleep(0.05)
    assert response.status_code == 200, response.text


async def test_a_model_removed_from_kv_is_refused_without_restart(
    stack: Stack, api_key: str, fake_upstream: FakeOpenAIServer
) -> None:
    config = gateway_config(stack.workdir, fake_upstream.base_url)
    stack.apply(config.model_copy(update={"models": config.models[:2]}))
    body = {"model": "gpt-impatient", "messages": [{"role": "user", "content": "hi"}]}
    async with httpx.AsyncClient(base_url=stack.base_url) as client:
        for _ in range(_ATTEMPTS):
            response = await client.post(
                "/chat/completions", json=body, headers={"authorization": f"Bearer {api_key}"}
            )
            if response.status_code == 404:
                break
            await asyncio.sleep(0.05)
    assert response.status_code == 404
