"""The OpenAI schema helper accepts real OpenAI bodies and rejects broken ones."""

from __future__ import annotations

from typing import Any

import pytest
from tests.support import fixtures
from tests.support.openai_schema import validate_openai, validate_openai_request

from tollway_common.contract import Endpoint

CHUNK: dict[str, Any] = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "created": 1731000000,
    "model": "gpt-4o-mini",
    "choices": [{"index": 0, "delta": {"content": "Hi"}, "logprobs": None, "finish_reason": None}],
}


def test_a_recorded_chat_completion_is_valid() -> None:
    validate_openai(
        "CreateChatCompletionResponse", fixtures.load_json("openai", "chat", "response.json")
    )


def test_a_response_without_choices_is_rejected() -> None:
    body = fixtures.load_json("openai", "chat", "response.json")
    del body["choices"]
    with pytest.raises(AssertionError, match=r"CreateChatCompletionResponse(.|\n)*'choices'"):
        validate_openai("CreateChatCompletionResponse", body)


def test_nullable_fields_accept_null() -> None:
    # `logprobs` and `finish_reason` are 3.0-style `nullable: true` in OpenAI's 3.1 spec.
    validate_openai("CreateChatCompletionStreamResponse", CHUNK)
    validate_openai(
        "ErrorResponse", {"error": {"message": "m", "type": "t", "param": None, "code": None}}
    )


def test_a_wrong_type_is_reported_with_its_path() -> None:
    chunk = {**CHUNK, "created": "yesterday"}
    with pytest.raises(AssertionError, match="at created: 'yesterday' is not of type 'integer'"):
        validate_openai("CreateChatCompletionStreamResponse", chunk)


def test_an_unknown_schema_name_is_an_error() -> None:
    with pytest.raises(KeyError, match="NoSuchSchema"):
        validate_openai("NoSuchSchema", {})


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        (Endpoint.CHAT_COMPLETIONS, {"model": "m", "messages": [{"role": "user", "content": "x"}]}),
        (Endpoint.COMPLETIONS, {"model": "m", "prompt": "x"}),
        (Endpoint.EMBEDDINGS, {"model": "m", "input": ["x", "y"]}),
    ],
)
def test_requests_are_checked_against_their_endpoint_schema(
    endpoint: Endpoint, body: dict[str, Any]
) -> None:
    validate_openai_request(endpoint, body)
    with pytest.raises(AssertionError):
        validate_openai_request(endpoint, {"model": "m"})
