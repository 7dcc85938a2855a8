"""Azure OpenAI clients pointed at the edge: the openai SDK's `AzureOpenAI` and
`AsyncAzureOpenAI`, unchanged, on Azure's deployment paths and its v1 paths, with the key as
`api-key` or as a bearer token. Every body, chunk and error is checked against OpenAI's spec."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import AsyncAzureOpenAI, AsyncOpenAI, AzureOpenAI
from openai.types.chat import ChatCompletionMessageParam
from tests.support.configs import gateway_config
from tests.support.fake_openai_server import FakeOpenAIServer
from tests.support.oidc_issuer import AUDIENCE, LocalIssuer
from tests.support.openai_schema import validate_openai
from tests.support.stack import Stack

from tollway_common.control import OrgRecord, TeamRecord

API_VERSION = "2024-10-21"
HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello from Azure"}]


def _azure(stack: Stack, key: str, **options: Any) -> AsyncAzureOpenAI:
    return AsyncAzureOpenAI(
        azure_endpoint=stack.edge_url,
        api_key=key,
        api_version=API_VERSION,
        max_retries=0,
        **options,
    )


def _dumped(model: Any) -> Any:
    return model.model_dump(exclude_unset=True)


def test_sync_client_chat_on_a_deployment_path(shared_stack: Stack, api_key: str) -> None:
    client = AzureOpenAI(
        azure_endpoint=shared_stack.edge_url,
        api_key=api_key,
        api_version=API_VERSION,
        max_retries=0,
    )
    with client:
        raw = client.chat.completions.with_raw_response.create(model="tollway-demo", messages=HELLO)
    assert raw.http_request.url.path == "/openai/deployments/tollway-demo/chat/completions"
    assert raw.http_request.url.params["api-version"] == API_VERSION
    assert raw.http_request.headers["api-key"] == api_key
    completion = raw.parse()
    validate_openai("CreateChatCompletionResponse", _dumped(completion))
    assert "Hello from Azure" in (completion.choices[0].message.content or "")


async def test_async_client_streams_chat_with_usage(shared_stack: Stack, api_key: str) -> None:
    async with _azure(shared_stack, api_key) as client:
        stream = await client.chat.completions.create(
            model="tollway-demo",
            messages=HELLO,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    for chunk in chunks:
        validate_openai("CreateChatCompletionStreamResponse", _dumped(chunk))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "Hello from Azure" in text
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0


async def test_embeddings_with_the_key_as_a_bearer_token(shared_stack: Stack, api_key: str) -> None:
    # `azure_ad_token` is sent as `Authorization: Bearer`; a virtual key works there too.
    client = AsyncAzureOpenAI(
        azure_endpoint=shared_stack.edge_url,
        azure_deployment="tollway-demo",
        azure_ad_token=api_key,
        api_version=API_VERSION,
        max_retries=0,
    )
    async with client:
        embedding = await client.embeddings.create(model="tollway-demo", input=["one", "two"])
    validate_openai("CreateEmbeddingResponse", _dumped(embedding))
    assert [item.index for item in embedding.data] == [0, 1]


async def test_legacy_completions_on_a_deployment_path(shared_stack: Stack, api_key: str) -> None:
    async with _azure(shared_stack, api_key) as client:
        completion = await client.completions.create(
            model="tollway-demo", prompt="Say hi", max_tokens=16
        )
        stream = await client.completions.create(
            model="tollway-demo", prompt="Say hi", max_tokens=16, stream=True
        )
        chunks = [chunk async for chunk in stream]
    validate_openai("CreateCompletionResponse", _dumped(completion))
    assert completion.choices[0].text
    # OpenAI streams `finish_reason: null` until the last choice chunk, which its one schema
    # for both shapes does not allow: that chunk is the one checked.
    last = [chunk for chunk in chunks if chunk.choices][-1]
    validate_openai("CreateCompletionResponse", _dumped(last))
    assert "".join(chunk.choices[0].text for chunk in chunks if chunk.choices)


async def test_the_paths_deployment_decides_the_model_not_the_body(
    shared_stack: Stack, api_key: str, shared_upstream: FakeOpenAIServer
) -> None:
    # A client pinned to a deployment sends any `model` in the body; Azure serves the path's.
    async with _azure(shared_stack, api_key, azure_deployment="gpt-test") as client:
        completion = await client.chat.completions.create(model="tollway-demo", messages=HELLO)
    validate_openai("CreateChatCompletionResponse", _dumped(completion))
    [sent] = shared_upstream.requests
    assert sent.path == "/v1/chat/completions"
    assert sent.json["model"] == "gpt-4o-mini"


async def test_a_body_without_a_model_is_served_by_the_paths_deployment(
    shared_stack: Stack, api_key: str
) -> None:
    async with httpx.AsyncClient(base_url=shared_stack.edge_url) as http:
        response = await http.post(
            "/openai/deployments/tollway-demo/chat/completions",
            params={"api-version": API_VERSION},
            json={"messages": HELLO},
            headers={"api-key": api_key},
        )
    assert response.status_code == 200, response.text
    validate_openai("CreateChatCompletionResponse", response.json())


async def test_v1_form_with_an_openai_client(shared_stack: Stack, api_key: str) -> None:
    client = AsyncOpenAI(base_url=f"{shared_stack.edge_url}/openai/v1/", api_key=api_key)
    async with client:
        completion = await client.chat.completions.create(model="tollway-demo", messages=HELLO)
        models = [model.id async for model in client.models.list()]
    validate_openai("CreateChatCompletionResponse", _dumped(completion))
    assert "tollway-demo" in models


async def test_v1_form_with_an_azure_client(shared_stack: Stack, api_key: str) -> None:
    client = AsyncAzureOpenAI(
        base_url=f"{shared_stack.edge_url}/openai/v1/",
        api_key=api_key,
        api_version="preview",
        max_retries=0,
    )
    async with client:
        raw = await client.chat.completions.with_raw_response.create(
            model="tollway-demo", messages=HELLO
        )
    assert raw.http_request.url.path == "/openai/v1/deployments/tollway-demo/chat/completions"
    validate_openai("CreateChatCompletionResponse", _dumped(raw.parse()))


async def test_models_list_outside_a_deployment(shared_stack: Stack, api_key: str) -> None:
    async with _azure(shared_stack, api_key, azure_deployment="tollway-demo") as client:
        models = [model.id async for model in client.models.list()]
    assert "tollway-demo" in models


async def test_an_unknown_deployment_is_model_not_found(shared_stack: Stack, api_key: str) -> None:
    async with _azure(shared_stack, api_key) as client:
        with pytest.raises(openai.NotFoundError) as refused:
            await client.chat.completions.create(model="no-such-deployment", messages=HELLO)
    validate_openai("ErrorResponse", refused.value.response.json())
    assert refused.value.code == "model_not_found"


async def test_a_malformed_api_version_is_a_bad_request(shared_stack: Stack, api_key: str) -> None:
    async with httpx.AsyncClient(base_url=shared_stack.edge_url) as http:
        response = await http.post(
            "/openai/deployments/tollway-demo/chat/completions",
            params={"api-version": "<2024>"},
            json={"messages": HELLO},
            headers={"api-key": api_key},
        )
    assert response.status_code == 400
    validate_openai("ErrorResponse", response.json())
    assert response.json()["error"]["param"] == "api-version"
    assert response.headers["x-request-id"]


async def test_a_missing_key_is_refused_before_anything_else(shared_stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=shared_stack.edge_url) as http:
        response = await http.post(
            "/openai/deployments/tollway-demo/chat/completions",
            params={"api-version": API_VERSION},
            json={"messages": HELLO},
        )
    assert response.status_code == 401
    validate_openai("ErrorResponse", response.json())


async def test_an_operation_the_models_provider_lacks_names_it(
    shared_stack: Stack, api_key: str
) -> None:
    # Image generation is served on a deployment path; the demo model's provider has none.
    async with _azure(shared_stack, api_key) as client:
        with pytest.raises(openai.BadRequestError) as refused:
            await client.images.generate(model="tollway-demo", prompt="a tollbooth")
    validate_openai("ErrorResponse", refused.value.response.json())
    assert refused.value.code == "unsupported_endpoint"
    assert "images_generations" in refused.value.message


async def test_an_entra_style_token_from_a_token_provider_is_taken(
    stack: Stack, tmp_path: Path, fake_upstream: FakeOpenAIServer
) -> None:
    # `azure_ad_token_provider` is how apps send Entra ID tokens: a JWT in `Authorization:
    # Bearer`, checked by the edge's OIDC verifier like any other token.
    records = {
        "orgs": [OrgRecord(org_id="acme")],
        "teams": [TeamRecord(team_id="ml", org_id="acme")],
    }
    stack.apply(gateway_config(tmp_path, fake_upstream.base_url).model_copy(update=records))
    with LocalIssuer() as issuer:
        stack.start_edge(
            name="edge-entra",
            TOLLWAY_EDGE_OIDC__ISSUER=issuer.url,
            TOLLWAY_EDGE_OIDC__AUDIENCE=AUDIENCE,
        )
        client = AsyncAzureOpenAI(
            azure_endpoint=stack.edge_url,
            azure_ad_token_provider=lambda: issuer.token({"team": "ml", "org": "acme"}),
            api_version=API_VERSION,
            max_retries=0,
        )
        async with client:
            raw = await client.chat.completions.with_raw_response.create(
                model="tollway-demo", messages=HELLO
            )
    assert raw.http_request.headers["authorization"].startswith("Bearer ey")
    validate_openai("CreateChatCompletionResponse", _dumped(raw.parse()))
