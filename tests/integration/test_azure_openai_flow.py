"""Azure OpenAI through the whole stack: the official openai SDK in front, a fake Azure OpenAI
resource behind the router (both path forms, `api-key` and Entra ID tokens from a fake token
service, hand-written grants and azure-identity's credentials: AKS Workload Identity against
the fake authority over HTTPS, App Service managed identity). Every request Azure receives is
checked against OpenAI's request schema by the fake, and every response, chunk and error the
client gets against OpenAI's response schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam
from tests.support import fake_media
from tests.support.certificates import loopback_certificate
from tests.support.fake_azure_openai_server import FakeAzureOpenAIServer
from tests.support.fake_token_server import IDENTITY_HEADER, FakeTokenServer
from tests.support.nats import start_test_nats
from tests.support.openai_schema import validate_openai
from tests.support.stack import Stack

from tollway_cli.servers import start_redis
from tollway_common.config_file import BootstrapKey, TollwayConfig
from tollway_common.control import Deployment, ModelAlias

KEY = "sk-tollway-azure-test-0123456789abcd"
AZURE_KEY = "azure-key-never-logged-0123456789ab"
CLIENT_ID = "22222222-3333-4444-5555-666666666666"
# The AKS Workload Identity webhook's environment: a client, a tenant, a projected token file.
WORKLOAD_CLIENT_ID = "33333333-4444-5555-6666-777777777777"
WORKLOAD_TENANT_ID = "fabrikam.onmicrosoft.com"
SERVICE_ACCOUNT_TOKEN = "eyJ.fake-projected-service-account-token.sig"
CLIENT_SECRET = "azure-client-secret-never-logged-77"
DEPLOYMENT = "gpt-4o-prod"
HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello Azure"}]


class AzureStack:
    def __init__(self, stack: Stack, azure: FakeAzureOpenAIServer, tokens: FakeTokenServer):
        self.stack = stack
        self.azure = azure
        self.tokens = tokens

    def client(self) -> AsyncOpenAI:
        return AsyncOpenAI(base_url=self.stack.base_url, api_key=KEY, max_retries=0)

    def sent(self) -> list[Any]:
        sent = list(self.azure.requests)
        self.azure.requests.clear()
        return sent


def _models(azure_url: str, tokens_url: str, secrets: Path) -> list[ModelAlias]:
    key = f"file:{secrets / 'azure-key'}"

    def model(name: str, **fields: Any) -> ModelAlias:
        deployment = Deployment(
            name=f"{name}-east",
            provider="azure_openai",
            model="gpt-4o",
            azure_deployment=DEPLOYMENT,
            api_base=azure_url,
            **fields,
        )
        return ModelAlias(name=name, deployments=[deployment])

    entra = {
        "type": "entra_client_credentials",
        "tenant_id": "contoso.onmicrosoft.com",
        "client_id": CLIENT_ID,
        "client_secret": f"file:{secrets / 'client-secret'}",
        "authority_host": tokens_url,
    }
    return [
        model("azure-deployments", api_key=key, api_version="2024-10-21"),
        model("azure-v1", api_key=key, api_version="v1"),
        model("azure-entra", auth=entra),
        model("azure-entra-refused", auth={**entra, "client_secret": f"file:{secrets / 'wrong'}"}),
        model("azure-managed-identity", auth={"type": "entra_managed_identity"}, api_version="v1"),
        model("azure-workload", auth={"type": "azure_identity", "credential": "workload"}),
        model("azure-identity-managed", auth={"type": "azure_identity", "credential": "managed"}),
        model("azure-wrong-key", api_key=f"file:{secrets / 'wrong'}"),
    ]


@pytest.fixture(scope="module")
def azure_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzureStack]:
    workdir = tmp_path_factory.mktemp("azure")
    secrets = workdir / "secrets"
    secrets.mkdir()
    for name, value in {
        "key": KEY,
        "azure-key": AZURE_KEY,
        "client-secret": CLIENT_SECRET,
        "wrong": "not-a-valid-secret-000",
    }.items():
        (secrets / name).write_text(value)
    (secrets / "service-account-token").write_text(SERVICE_ACCOUNT_TOKEN)
    certificate = loopback_certificate(workdir / "tls")
    nats, redis = start_test_nats(workdir / "nats"), start_redis(workdir / "redis")
    with (
        FakeTokenServer(clients={CLIENT_ID: CLIENT_SECRET}) as tokens,
        # azure-identity takes only an https authority: a second face of the same service
        # (one book of issued tokens), over TLS the router is told to trust.
        FakeTokenServer(
            federated={WORKLOAD_CLIENT_ID: SERVICE_ACCOUNT_TOKEN},
            tls=certificate,
            issued=tokens.issued,
        ) as authority,
        FakeAzureOpenAIServer(frozenset({DEPLOYMENT}), AZURE_KEY, tokens) as azure,
    ):
        stack = Stack(nats=nats, redis=redis, workdir=workdir)
        try:
            stack.apply(
                TollwayConfig(
                    models=_models(azure.url, tokens.url, secrets),
                    keys=[BootstrapKey(name="t", secret=f"file:{secrets / 'key'}")],
                )
            )
            stack.start_router(
                IDENTITY_ENDPOINT=f"{tokens.url}/msi/token",
                IDENTITY_HEADER=IDENTITY_HEADER,
                AZURE_AUTHORITY_HOST=authority.url,
                AZURE_CLIENT_ID=WORKLOAD_CLIENT_ID,
                AZURE_TENANT_ID=WORKLOAD_TENANT_ID,
                AZURE_FEDERATED_TOKEN_FILE=str(secrets / "service-account-token"),
                SSL_CERT_FILE=str(certificate[0]),
            )
            stack.start_edge()
            yield AzureStack(stack, azure, tokens)
            logs = stack.logs()
            for secret in (AZURE_KEY, CLIENT_SECRET, SERVICE_ACCOUNT_TOKEN, *tokens.issued):
                assert secret not in logs, "an upstream secret or token reached a log"
        finally:
            stack.stop()
            redis.stop()
            nats.stop()


async def _chat(azure: AzureStack, model: str) -> None:
    """One answer and one stream; every body and chunk valid, the stream's usage present."""
    async with azure.client() as client:
        raw = await client.chat.completions.with_raw_response.create(model=model, messages=HELLO)
        validate_openai("CreateChatCompletionResponse", raw.http_response.json())
        assert raw.parse().choices[0].message.content
        stream = await client.chat.completions.create(
            model=model, messages=HELLO, stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]
    for chunk in chunks:
        validate_openai("CreateChatCompletionStreamResponse", chunk.model_dump(exclude_unset=True))
    assert all(chunk.id for chunk in chunks), "Azure's prompt-filter chunk never reaches clients"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens > 0


@pytest.mark.proves("azure_deployments_path", "azure_openai")
@pytest.mark.proves("azure_api_key", "azure_openai")
@pytest.mark.proves("sdk_stack", "azure_openai")
@pytest.mark.proves("stream_usage", "azure_openai")
async def test_deployment_paths_with_the_api_key(azure_stack: AzureStack) -> None:
    azure_stack.sent()
    await _chat(azure_stack, "azure-deployments")
    sent = azure_stack.sent()
    assert [r.path for r in sent] == [f"/openai/deployments/{DEPLOYMENT}/chat/completions"] * 2
    assert all(r.query == {"api-version": "2024-10-21"} for r in sent)
    assert all(r.headers["api-key"] == AZURE_KEY for r in sent)
    assert all("authorization" not in r.headers for r in sent)
    assert sent[1].json["stream_options"] == {"include_usage": True}


@pytest.mark.proves("azure_v1_path", "azure_openai")
@pytest.mark.proves("sdk_stack", "azure_openai")
async def test_the_v1_paths_name_the_deployment_as_the_model(azure_stack: AzureStack) -> None:
    azure_stack.sent()
    await _chat(azure_stack, "azure-v1")
    sent = azure_stack.sent()
    assert [r.path for r in sent] == ["/openai/v1/chat/completions"] * 2
    assert all(r.query == {} for r in sent)
    assert all(r.json["model"] == DEPLOYMENT for r in sent)


@pytest.mark.proves("azure_entra", "azure_openai")
@pytest.mark.proves("oauth_client_credentials", "azure_openai")
@pytest.mark.proves("oauth_cache", "azure_openai")
async def test_an_entra_service_principal_token_is_sent_as_the_bearer(
    azure_stack: AzureStack,
) -> None:
    azure_stack.sent()
    await _chat(azure_stack, "azure-entra")
    await _chat(azure_stack, "azure-entra")
    sent = azure_stack.sent()
    bearers = {r.headers["authorization"].removeprefix("Bearer ") for r in sent}
    assert len(bearers) == 1, "one token serves every request until it is due for refresh"
    issued = azure_stack.tokens.issued_for(bearers.pop())
    assert issued is not None
    assert (issued.client_id, issued.grant) == (CLIENT_ID, "client_credentials")
    assert issued.scope == "https://cognitiveservices.azure.com/.default"
    assert all("api-key" not in r.headers for r in sent)


@pytest.mark.proves("azure_entra", "azure_openai")
@pytest.mark.proves("oauth_managed_identity", "azure_openai")
async def test_the_routers_managed_identity_token_is_sent_as_the_bearer(
    azure_stack: AzureStack,
) -> None:
    azure_stack.sent()
    await _chat(azure_stack, "azure-managed-identity")
    [first, _] = azure_stack.sent()
    issued = azure_stack.tokens.issued_for(first.headers["authorization"].removeprefix("Bearer "))
    assert issued is not None
    assert issued.grant == "identity_endpoint"


async def test_an_aks_workload_identity_token_from_azure_identity_is_the_bearer(
    azure_stack: AzureStack,
) -> None:
    """azure-identity's WorkloadIdentityCredential: the projected service account token is
    exchanged at the (HTTPS) authority for the workload's client, and that token reaches Azure."""
    azure_stack.sent()
    await _chat(azure_stack, "azure-workload")
    [first, second] = azure_stack.sent()
    token = first.headers["authorization"].removeprefix("Bearer ")
    assert second.headers["authorization"] == first.headers["authorization"], "cached"
    issued = azure_stack.tokens.issued_for(token)
    assert issued is not None
    assert (issued.grant, issued.client_id) == ("client_assertion", WORKLOAD_CLIENT_ID)
    assert issued.scope == "https://cognitiveservices.azure.com/.default"


async def test_a_managed_identity_token_from_azure_identity_is_the_bearer(
    azure_stack: AzureStack,
) -> None:
    azure_stack.sent()
    await _chat(azure_stack, "azure-identity-managed")
    [first, _] = azure_stack.sent()
    issued = azure_stack.tokens.issued_for(first.headers["authorization"].removeprefix("Bearer "))
    assert issued is not None
    assert issued.grant == "identity_endpoint"


async def _error(azure: AzureStack, model: str, error: type[openai.APIStatusError]) -> Any:
    async with azure.client() as client:
        with pytest.raises(error) as raised:
            await client.chat.completions.create(model=model, messages=HELLO)
    response = raised.value.response
    validate_openai("ErrorResponse", response.json())
    return response


@pytest.mark.proves("oauth_errors", "azure_openai")
@pytest.mark.proves("errors", "azure_openai")
async def test_a_refused_service_principal_is_502_never_401(azure_stack: AzureStack) -> None:
    response = await _error(azure_stack, "azure-entra-refused", openai.InternalServerError)
    assert response.status_code == 502
    assert response.headers["x-should-retry"] == "false"
    error = response.json()["error"]
    assert error["code"] == "upstream_auth_failed"
    assert "invalid_client" in error["message"]


@pytest.mark.proves("errors", "azure_openai")
async def test_azure_refusing_the_key_is_502_never_401(azure_stack: AzureStack) -> None:
    response = await _error(azure_stack, "azure-wrong-key", openai.InternalServerError)
    assert response.json()["error"]["code"] == "upstream_auth_failed"


@pytest.mark.proves("content_filter_error", "azure_openai")
async def test_a_content_filter_refusal_is_a_400_with_its_code(azure_stack: AzureStack) -> None:
    azure_stack.azure.content_filter = True
    try:
        response = await _error(azure_stack, "azure-deployments", openai.BadRequestError)
    finally:
        azure_stack.azure.content_filter = False
    assert response.json()["error"]["code"] == "content_filter"


@pytest.mark.proves("tool_call_stream", "azure_openai")
@pytest.mark.proves("sdk_stack", "azure_openai")
async def test_a_streamed_tool_call_reaches_the_client_whole(azure_stack: AzureStack) -> None:
    tool: ChatCompletionToolParam = {
        "type": "function",
        "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}},
    }
    async with azure_stack.client() as client:
        stream = await client.chat.completions.create(
            model="azure-v1",
            messages=HELLO,
            tools=[tool],
            stream=True,
        )
        chunks = [chunk async for chunk in stream]
    for chunk in chunks:
        validate_openai("CreateChatCompletionStreamResponse", chunk.model_dump(exclude_unset=True))
    calls = [call for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or []]
    assert calls[0].function is not None
    assert calls[0].function.name == "lookup"
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


@pytest.mark.proves("legacy_endpoints", "azure_openai")
@pytest.mark.proves("sdk_stack", "azure_openai")
@pytest.mark.parametrize("model", ["azure-deployments", "azure-v1"])
async def test_legacy_completions_and_embeddings_are_served(
    azure_stack: AzureStack, model: str
) -> None:
    azure_stack.sent()
    async with azure_stack.client() as client:
        completion = await client.completions.with_raw_response.create(
            model=model, prompt="Say hi", max_tokens=5
        )
        # Floats, so the body is the spec's shape (the SDK's default asks for base64).
        embedding = await client.embeddings.with_raw_response.create(
            model=model, input="hi", encoding_format="float"
        )
    validate_openai("CreateCompletionResponse", completion.http_response.json())
    validate_openai("CreateEmbeddingResponse", embedding.http_response.json())
    assert completion.parse().choices[0].text
    assert embedding.parse().data[0].embedding
    paths = [r.path for r in azure_stack.sent()]
    prefix = f"/openai/deployments/{DEPLOYMENT}" if model == "azure-deployments" else "/openai/v1"
    assert paths == [f"{prefix}/completions", f"{prefix}/embeddings"]


@pytest.mark.proves("responses_native", "azure_openai")
@pytest.mark.proves("responses_create", "azure_openai")
@pytest.mark.proves("responses_stream", "azure_openai")
@pytest.mark.proves("responses_previous", "azure_openai")
async def test_responses_pass_through_on_azures_v1_path(azure_stack: AzureStack) -> None:
    """A deployment whose chat takes the dated paths still gets Responses on the v1 path."""
    azure_stack.sent()
    async with azure_stack.client() as client:
        raw = await client.responses.with_raw_response.create(
            model="azure-deployments", input="Hello Azure"
        )
        validate_openai("Response", raw.http_response.json())
        first = raw.parse()
        assert await client.responses.retrieve(first.id) == first
        stream = await client.responses.create(
            model="azure-deployments", previous_response_id=first.id, input="Again", stream=True
        )
        events = [event async for event in stream]
    assert events[-1].type == "response.completed"
    sent = azure_stack.sent()
    assert [r.path for r in sent] == ["/openai/v1/responses"] * 2
    assert all(r.headers["api-key"] == AZURE_KEY for r in sent)
    assert all((r.json["model"], r.json["store"]) == (DEPLOYMENT, False) for r in sent)
    assert len(sent[1].json["input"]) == 3


async def test_images_and_audio_reach_azure_on_its_deployment_paths(
    azure_stack: AzureStack,
) -> None:
    azure_stack.sent()
    audio = b"RIFF" + bytes(1020)
    async with azure_stack.client() as client:
        images = await client.images.with_raw_response.generate(
            model="azure-deployments", prompt="a harbour", n=2
        )
        heard = await client.audio.transcriptions.with_raw_response.create(
            model="azure-deployments", file=("talk.wav", audio, "audio/wav")
        )
        spoken = await client.audio.speech.with_raw_response.create(
            model="azure-deployments", voice="alloy", input="Hello Azure"
        )
    validate_openai("ImagesResponse", images.http_response.json())
    validate_openai("CreateTranscriptionResponseJson", heard.http_response.json())
    assert heard.parse().text == f"Heard {len(audio)} bytes of talk.wav."
    assert spoken.http_response.content == fake_media.speech_audio("Hello Azure")
    sent = azure_stack.sent()
    prefix = f"/openai/deployments/{DEPLOYMENT}"
    assert [r.path for r in sent] == [
        f"{prefix}/images/generations",
        f"{prefix}/audio/transcriptions",
        f"{prefix}/audio/speech",
    ]
    assert all(r.headers["api-key"] == AZURE_KEY for r in sent)
    assert sent[1].json == {"model": DEPLOYMENT}  # the form's text fields


async def test_image_variations_are_refused_on_azure_naming_the_endpoint(
    azure_stack: AzureStack,
) -> None:
    async with azure_stack.client() as client:
        with pytest.deprecated_call(), pytest.raises(openai.BadRequestError) as refused:
            await client.images.create_variation(
                model="azure-deployments", image=("a.png", fake_media.PNG, "image/png")
            )
    assert refused.value.code == "unsupported_endpoint"
    assert "images_variations" in refused.value.message
