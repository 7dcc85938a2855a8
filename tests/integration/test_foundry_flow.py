"""Claude on Azure AI Foundry through the whole stack: the openai SDK in front, the anthropic
SDK's Foundry client behind the router, a fake Foundry resource on loopback (the router's
Foundry URL points at it), with the resource's API key or an Entra ID token."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam
from tests.support.fake_anthropic_server import FOUNDRY_SCOPE, FakeAnthropicServer
from tests.support.fake_token_server import FakeTokenServer
from tests.support.nats import start_test_nats
from tests.support.openai_schema import validate_openai
from tests.support.stack import Stack

from tollway_cli.servers import start_redis
from tollway_common.config_file import BootstrapKey, TollwayConfig
from tollway_common.control import Deployment, ModelAlias

KEY = "sk-tollway-foundry-test-0123456789ab"
FOUNDRY_KEY = "foundry-key-never-logged-0123456789"
CLIENT_ID = "33333333-4444-5555-6666-777777777777"
CLIENT_SECRET = "foundry-client-secret-never-logged"
BETA = "context-1m-2025-08-07"
HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello Claude"}]


class FoundryStack:
    def __init__(self, stack: Stack, foundry: FakeAnthropicServer, tokens: FakeTokenServer):
        self.stack = stack
        self.foundry = foundry
        self.tokens = tokens

    def client(self) -> AsyncOpenAI:
        return AsyncOpenAI(base_url=self.stack.base_url, api_key=KEY, max_retries=0)

    def sent(self) -> list[tuple[str, dict[str, str], dict[str, object]]]:
        sent = [
            (resource, headers, body)
            for resource, (headers, body) in zip(
                self.foundry.resources, self.foundry.requests, strict=True
            )
        ]
        self.foundry.requests.clear()
        self.foundry.resources.clear()
        return sent


def _deployment(name: str, **fields: object) -> Deployment:
    return Deployment.model_validate(
        {
            "name": name,
            "provider": "anthropic",
            "model": "claude-sonnet-4-5",
            "foundry_resource": "contoso-east",
            **fields,
        }
    )


@pytest.fixture(scope="module")
def foundry_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FoundryStack]:
    workdir = tmp_path_factory.mktemp("foundry")
    secrets = workdir / "secrets"
    secrets.mkdir()
    for name, value in {
        "key": KEY,
        "foundry-key": FOUNDRY_KEY,
        "client-secret": CLIENT_SECRET,
        "wrong": "not-the-foundry-key-00000",
    }.items():
        (secrets / name).write_text(value)
    nats, redis = start_test_nats(workdir / "nats"), start_redis(workdir / "redis")
    with (
        FakeTokenServer(clients={CLIENT_ID: CLIENT_SECRET}) as tokens,
        FakeAnthropicServer(keys={"contoso-east": FOUNDRY_KEY}, tokens=tokens) as foundry,
    ):
        entra = {
            "type": "entra_client_credentials",
            "tenant_id": "contoso.onmicrosoft.com",
            "client_id": CLIENT_ID,
            "client_secret": f"file:{secrets / 'client-secret'}",
            "authority_host": tokens.url,
        }
        models = [
            ModelAlias(
                name="claude-foundry",
                deployments=[
                    _deployment(
                        "foundry-key",
                        api_key=f"file:{secrets / 'foundry-key'}",
                        headers={"anthropic-beta": BETA},
                    )
                ],
            ),
            ModelAlias(name="claude-foundry-entra", deployments=[_deployment("e", auth=entra)]),
            ModelAlias(
                name="claude-foundry-wrong-key",
                deployments=[_deployment("w", api_key=f"file:{secrets / 'wrong'}")],
            ),
        ]
        stack = Stack(nats=nats, redis=redis, workdir=workdir)
        try:
            stack.apply(
                TollwayConfig(
                    models=models, keys=[BootstrapKey(name="t", secret=f"file:{secrets / 'key'}")]
                )
            )
            stack.start_router(TOLLWAY_ROUTER_FOUNDRY_BASE_URL=foundry.foundry_base_url)
            stack.start_edge()
            yield FoundryStack(stack, foundry, tokens)
            logs = stack.logs()
            for secret in (FOUNDRY_KEY, CLIENT_SECRET, *tokens.issued):
                assert secret not in logs, "an upstream secret or token reached a log"
        finally:
            stack.stop()
            redis.stop()
            nats.stop()


async def _chat(foundry: FoundryStack, model: str) -> None:
    async with foundry.client() as client:
        raw = await client.chat.completions.with_raw_response.create(model=model, messages=HELLO)
        validate_openai("CreateChatCompletionResponse", raw.http_response.json())
        assert raw.parse().choices[0].message.content
        stream = await client.chat.completions.create(
            model=model, messages=HELLO, stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]
    for chunk in chunks:
        validate_openai("CreateChatCompletionStreamResponse", chunk.model_dump(exclude_unset=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].usage is not None


@pytest.mark.proves("foundry_api_key", "anthropic")
@pytest.mark.proves("beta_headers", "anthropic")
@pytest.mark.proves("sdk_stack", "anthropic")
async def test_a_foundry_resource_is_called_with_its_key_through_the_foundry_client(
    foundry_stack: FoundryStack,
) -> None:
    foundry_stack.sent()
    await _chat(foundry_stack, "claude-foundry")
    sent = foundry_stack.sent()
    assert [resource for resource, _, _ in sent] == ["contoso-east", "contoso-east"]
    for _, headers, body in sent:
        # The SDK's Foundry client sends the resource key as `api-key` (and `x-api-key`).
        assert headers["api-key"] == FOUNDRY_KEY
        assert "authorization" not in headers
        assert headers["anthropic-beta"] == BETA
        assert headers["anthropic-version"] == "2023-06-01"
        assert body["model"] == "claude-sonnet-4-5"


@pytest.mark.proves("foundry_entra", "anthropic")
@pytest.mark.proves("oauth_client_credentials", "anthropic")
@pytest.mark.proves("oauth_cache", "anthropic")
async def test_a_foundry_resource_is_called_with_an_entra_token(
    foundry_stack: FoundryStack,
) -> None:
    foundry_stack.sent()
    await _chat(foundry_stack, "claude-foundry-entra")
    sent = foundry_stack.sent()
    bearers = {headers["authorization"].removeprefix("Bearer ") for _, headers, _ in sent}
    assert len(bearers) == 1
    issued = foundry_stack.tokens.issued_for(bearers.pop())
    assert issued is not None
    assert (issued.scope, issued.client_id) == (FOUNDRY_SCOPE, CLIENT_ID)
    assert all("api-key" not in headers for _, headers, _ in sent)


@pytest.mark.proves("errors", "anthropic")
async def test_a_foundry_key_the_resource_refuses_is_502_never_401(
    foundry_stack: FoundryStack,
) -> None:
    async with foundry_stack.client() as client:
        with pytest.raises(openai.InternalServerError) as raised:
            await client.chat.completions.create(model="claude-foundry-wrong-key", messages=HELLO)
    body = raised.value.response.json()
    validate_openai("ErrorResponse", body)
    assert raised.value.response.status_code == 502
    assert body["error"]["code"] == "upstream_auth_failed"


@pytest.mark.proves("legacy_endpoints", "anthropic")
@pytest.mark.proves("sdk_stack", "anthropic")
async def test_completions_on_claude_are_served_and_embeddings_a_clear_400(
    foundry_stack: FoundryStack,
) -> None:
    foundry_stack.sent()
    async with foundry_stack.client() as client:
        completion = await client.completions.create(
            model="claude-foundry", prompt="Hi", max_tokens=5
        )
        with pytest.raises(openai.BadRequestError) as embeddings:
            await client.embeddings.create(model="claude-foundry", input="Hi")
    validate_openai("CreateCompletionResponse", completion.model_dump(exclude_unset=True))
    assert completion.object == "text_completion"
    assert completion.choices[0].text
    body = embeddings.value.response.json()
    validate_openai("ErrorResponse", body)
    error = body["error"]
    assert (error["code"], error["param"]) == ("unsupported_endpoint", "model")
    assert "'claude-foundry'" in error["message"]
    assert "no embeddings endpoint" in error["message"]
    [(_, _, sent)] = foundry_stack.sent()
    assert sent["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
