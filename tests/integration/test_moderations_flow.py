"""`POST /v1/moderations` through the whole stack: passed through to an OpenAI deployment with
the same keys and metering as embeddings, and refused with a clear error for a model whose
provider has no moderation endpoint."""

from __future__ import annotations

import httpx
import openai
import pytest
from openai import AsyncAzureOpenAI, AsyncOpenAI
from tests.support.configs import UPSTREAM_SECRET
from tests.support.fake_openai_server import FakeOpenAIServer
from tests.support.openai_schema import validate_openai
from tests.support.stack import Stack
from tests.support.usage_stream import usage_events

from tollway_common.contract import Endpoint


def _client(stack: Stack, key: str) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=stack.base_url, api_key=key, max_retries=0)


async def test_moderation_reaches_the_openai_deployment_and_is_metered(
    shared_stack: Stack, api_key: str, shared_upstream: FakeOpenAIServer
) -> None:
    async with _client(shared_stack, api_key) as client:
        raw = await client.moderations.with_raw_response.create(
            model="gpt-test", input=["I want to kill them.", "Have a nice day."]
        )
    moderation = raw.parse()
    validate_openai("CreateModerationResponse", raw.http_response.json())
    assert [result.flagged for result in moderation.results] == [True, False]
    [sent] = shared_upstream.requests
    assert sent.path == "/v1/moderations"
    assert sent.headers["authorization"] == f"Bearer {UPSTREAM_SECRET}"
    assert sent.json == {
        "model": "gpt-4o-mini",
        "input": ["I want to kill them.", "Have a nice day."],
    }
    request_id = raw.headers["x-request-id"]
    events = await usage_events(shared_stack.nats.url_as("test"), [request_id])
    event = events[request_id]
    assert (event.endpoint, event.model_alias, event.deployment, event.status_code) == (
        Endpoint.MODERATIONS,
        "gpt-test",
        "fake-openai",
        200,
    )
    # OpenAI reports no usage for a moderation: the prompt is estimated, nothing is generated.
    assert (event.completion_tokens, event.usage_estimated) == (0, True)
    assert event.prompt_tokens > 0


async def test_multimodal_input_passes_through(
    shared_stack: Stack, api_key: str, shared_upstream: FakeOpenAIServer
) -> None:
    parts: list[openai.types.ModerationMultiModalInputParam] = [
        {"type": "text", "text": "a calm lake"},
        {"type": "image_url", "image_url": {"url": "https://example.com/lake.png"}},
    ]
    async with _client(shared_stack, api_key) as client:
        moderation = await client.moderations.create(model="gpt-test", input=parts)
    assert len(moderation.results) == 2
    assert shared_upstream.requests[0].json["input"] == parts


async def test_a_model_whose_provider_has_no_moderations_says_so(
    shared_stack: Stack, api_key: str
) -> None:
    async with _client(shared_stack, api_key) as client:
        with pytest.raises(openai.BadRequestError) as refused:
            await client.moderations.create(model="tollway-demo", input="hello")
    validate_openai("ErrorResponse", refused.value.response.json())
    assert refused.value.code == "unsupported_endpoint"
    assert "moderations" in refused.value.message


@pytest.mark.parametrize(
    ("body", "param"),
    [({"input": "hello"}, "model"), ({"model": "gpt-test", "input": 7}, "input")],
)
async def test_a_bad_moderation_body_is_a_400_naming_the_field(
    shared_stack: Stack, api_key: str, body: dict[str, object], param: str
) -> None:
    async with httpx.AsyncClient(base_url=shared_stack.base_url) as http:
        response = await http.post(
            "/moderations", json=body, headers={"authorization": f"Bearer {api_key}"}
        )
    assert response.status_code == 400
    validate_openai("ErrorResponse", response.json())
    assert response.json()["error"]["param"] == param


async def test_an_azure_client_reaches_moderations_outside_a_deployment(
    shared_stack: Stack, api_key: str, shared_upstream: FakeOpenAIServer
) -> None:
    client = AsyncAzureOpenAI(
        azure_endpoint=shared_stack.edge_url,
        api_key=api_key,
        api_version="2024-10-21",
        max_retries=0,
    )
    async with client:
        raw = await client.moderations.with_raw_response.create(model="gpt-test", input="hi")
    assert raw.http_request.url.path == "/openai/moderations"
    validate_openai("CreateModerationResponse", raw.http_response.json())
    assert [request.path for request in shared_upstream.requests] == ["/v1/moderations"]
