"""Capability routing through the whole stack: a request with an image goes only to the
deployment of its model that can see, and one no deployment can serve is a 400 naming the
capability, in OpenAI's error shape on chat and Anthropic's on /v1/messages, through both SDKs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import anthropic
import openai
import pytest
from anthropic import AsyncAnthropic
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam
from tests.support.anthropic_schema import validate_anthropic
from tests.support.fake_openai_server import FakeOpenAIServer
from tests.support.openai_schema import validate_openai
from tests.support.stack import Stack, open_stack

from tollway_common.config_file import BootstrapKey, TollwayConfig
from tollway_common.control import Deployment, ModelAlias

KEY = "sk-tollway-capabilities-0123456789ab"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+A8AAQUBAScY42YAAAAASUVORK5CYII="
LOOK: list[ChatCompletionMessageParam] = [
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in this picture?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        ],
    }
]

SOURCE: anthropic.types.Base64ImageSourceParam = {
    "type": "base64",
    "media_type": "image/png",
    "data": PNG,
}


@dataclass
class Served:
    stack: Stack
    upstream: FakeOpenAIServer


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    workdir = tmp_path_factory.mktemp("capabilities")
    (workdir / "key").write_text(KEY)
    (workdir / "upstream").write_text("sk-upstream-capabilities")
    with ExitStack() as cleanup:
        upstream = cleanup.enter_context(FakeOpenAIServer())

        def deployment(name: str, model: str) -> Deployment:
            return Deployment(
                name=name,
                provider="openai",
                model=model,
                api_base=upstream.base_url,
                api_key=f"file:{workdir / 'upstream'}",
            )

        stack = open_stack(workdir, cleanup)
        stack.apply(
            TollwayConfig(
                models=[
                    # gpt-3.5-turbo cannot see (its family's default); gpt-4o can.
                    ModelAlias(
                        name="mixed",
                        deployments=[
                            deployment("blind", "gpt-3.5-turbo"),
                            deployment("seeing", "gpt-4o"),
                        ],
                    ),
                    ModelAlias(name="text-only", deployments=[deployment("old", "gpt-3.5-turbo")]),
                ],
                keys=[BootstrapKey(name="t", secret=f"file:{workdir / 'key'}")],
            )
        )
        stack.start_router()
        stack.start_edge()
        yield Served(stack, upstream)


async def test_an_image_goes_only_to_the_deployment_that_can_see(served: Served) -> None:
    before = len(served.upstream.requests)
    async with AsyncOpenAI(base_url=served.stack.base_url, api_key=KEY, max_retries=0) as client:
        for _ in range(4):
            raw = await client.chat.completions.with_raw_response.create(
                model="mixed", messages=LOOK
            )
            validate_openai("CreateChatCompletionResponse", raw.http_response.json())
        # Text alone may go to either: both serve it.
        for _ in range(6):
            await client.chat.completions.create(
                model="mixed", messages=[{"role": "user", "content": "hello"}]
            )
    sent = [request.json["model"] for request in served.upstream.requests[before:]]
    assert sent[:4] == ["gpt-4o"] * 4
    assert len(sent) == 10


async def test_an_image_no_deployment_can_see_is_a_400_in_openai_shape(served: Served) -> None:
    before = len(served.upstream.requests)
    async with AsyncOpenAI(base_url=served.stack.base_url, api_key=KEY, max_retries=0) as client:
        with pytest.raises(openai.BadRequestError) as refused:
            await client.chat.completions.create(model="text-only", messages=LOOK)
    body = refused.value.response.json()
    validate_openai("ErrorResponse", body)
    assert body["error"]["code"] == "unsupported_capability"
    assert body["error"]["type"] == "invalid_request_error"
    assert "images (capability vision)" in body["error"]["message"]
    assert len(served.upstream.requests) == before, "nothing reached the upstream"


async def test_an_image_no_deployment_can_see_is_a_400_in_anthropic_shape(
    served: Served,
) -> None:
    async with AsyncAnthropic(
        base_url=served.stack.edge_url, auth_token=KEY, max_retries=0
    ) as client:
        with pytest.raises(anthropic.BadRequestError) as refused:
            await client.messages.create(
                model="text-only",
                max_tokens=64,
                messages=[
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "What is in this picture?"},
                            {"type": "image", "source": SOURCE},
                        ],
                    }
                ],
            )
    body = refused.value.response.json()
    validate_anthropic("ErrorResponse", body)
    assert body["error"]["type"] == "invalid_request_error"
    assert "images (capability vision)" in body["error"]["message"]
