"""The Azure OpenAI adapter: Azure's paths and header on the OpenAI translation, and Azure's
stream and content-filter quirks on recorded traffic."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from tests.support import fixtures
from tests.support.openai_schema import validate_openai

from tollway_common import errors
from tollway_common.contract import Endpoint, RequestFacts
from tollway_common.control import Deployment
from tollway_router.providers import azure_openai
from tollway_router.providers.adapter import ChunkOut
from tollway_router.upstream.sse_decoder import SseDecoder

ADAPTER = azure_openai.ADAPTER
TARGET = Deployment(name="az", provider="azure_openai", model="gpt-4o")
CHAT = {"model": "gpt", "messages": [{"role": "user", "content": "Hi"}]}


def _build(endpoint: Endpoint, target: Deployment, body: dict[str, Any] = CHAT) -> Any:
    return ADAPTER.build_request(endpoint, body, RequestFacts(), target)


def _replay(case: str) -> list[ChunkOut]:
    decoder = SseDecoder()
    events = decoder.feed(fixtures.load_bytes("azure_openai", case, "stream.sse"))
    assert decoder.feed(b"\n\n") == []
    state = ADAPTER.new_stream_state()
    out: list[ChunkOut] = []
    for event in events:
        assert not state.done, "an event came after [DONE]"
        out.extend(ADAPTER.parse_stream_event(event, state))
    assert state.done, "the stream's [DONE] was consumed"
    return out


@pytest.mark.parametrize(
    ("endpoint", "suffix"),
    [
        (Endpoint.CHAT_COMPLETIONS, "chat/completions"),
        (Endpoint.COMPLETIONS, "completions"),
        (Endpoint.EMBEDDINGS, "embeddings"),
    ],
)
@pytest.mark.proves("azure_deployments_path", "azure_openai")
def test_deployment_paths_carry_the_default_api_version(endpoint: Endpoint, suffix: str) -> None:
    call = _build(endpoint, TARGET)
    assert call.path == f"/openai/deployments/gpt-4o/{suffix}"
    assert call.query == {"api-version": "2024-10-21"}


@pytest.mark.proves("azure_deployments_path", "azure_openai")
def test_the_azure_deployment_name_and_api_version_are_used() -> None:
    target = TARGET.model_copy(
        update={"azure_deployment": "prod gpt4o", "api_version": "2025-01-01-preview"}
    )
    call = _build(Endpoint.CHAT_COMPLETIONS, target)
    assert call.path == "/openai/deployments/prod%20gpt4o/chat/completions"
    assert call.query == {"api-version": "2025-01-01-preview"}


@pytest.mark.proves("azure_v1_path", "azure_openai")
@pytest.mark.proves("passthrough", "azure_openai")
def test_v1_api_uses_the_v1_path_with_the_deployment_as_model() -> None:
    target = TARGET.model_copy(update={"api_version": "v1", "azure_deployment": "gpt4o-east"})
    call = _build(Endpoint.CHAT_COMPLETIONS, target, {**CHAT, "stream": True})
    assert (call.path, dict(call.query)) == ("/openai/v1/chat/completions", {})
    assert orjson.loads(call.body) == {
        **CHAT,
        "model": "gpt4o-east",
        "stream": True,
        "stream_options": {"include_usage": True},
    }


@pytest.mark.proves("azure_api_key", "azure_openai")
def test_the_secret_goes_in_the_api_key_header() -> None:
    assert ADAPTER.auth_header("azure-secret") == ("api-key", "azure-secret")


def test_stream_drops_the_prompt_filter_chunk_and_keeps_the_rest() -> None:
    chunks = _replay("text_stream")
    records = [
        {
            "data": orjson.loads(chunk.data),
            "usage": chunk.usage.model_dump() if chunk.usage else None,
            "usage_only": chunk.usage_only,
            "output_chars": chunk.output_chars,
        }
        for chunk in chunks
    ]
    assert records == fixtures.load_jsonl("azure_openai", "text_stream")
    assert all("prompt_filter_results" not in record["data"] for record in records)
    for chunk in chunks:
        validate_openai("CreateChatCompletionStreamResponse", orjson.loads(chunk.data))


@pytest.mark.proves("stream_usage", "azure_openai")
def test_only_the_usage_chunk_is_usage_only() -> None:
    chunks = _replay("text_stream")
    assert [chunk.usage_only for chunk in chunks] == [False, False, False, False, True]
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 22


def test_response_is_forwarded_with_its_usage() -> None:
    raw = fixtures.load_bytes("azure_openai", "chat", "response.json")
    parsed = ADAPTER.parse_response(Endpoint.CHAT_COMPLETIONS, raw, TARGET)
    validate_openai("CreateChatCompletionResponse", orjson.loads(parsed.body))
    assert parsed.body == raw
    assert parsed.usage is not None
    assert parsed.usage.total_tokens == 18


@pytest.mark.proves("content_filter_error", "azure_openai")
@pytest.mark.proves("errors", "azure_openai")
def test_content_filter_error_keeps_its_code() -> None:
    body = fixtures.load_bytes("azure_openai", "error_400_content_filter", "response.json")
    error = ADAPTER.parse_error(400, {}, body)
    assert type(error) is errors.UpstreamBadRequest
    assert error.body().code == "content_filter"
    assert error.param == "prompt"
    assert "content management policy" in error.message
    validate_openai("ErrorResponse", {"error": error.body().model_dump()})


@pytest.mark.proves("errors", "azure_openai")
def test_rate_limit_passes_azures_retry_after_on() -> None:
    error = ADAPTER.parse_error(429, {"retry-after-ms": "1500"}, b'{"error": {"code": "429"}}')
    assert type(error) is errors.UpstreamRateLimited
    assert error.retry_after == 1.5
