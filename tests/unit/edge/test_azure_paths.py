"""Azure's URL forms read as the OpenAI paths they stand for."""

from __future__ import annotations

import pytest

from tollway_common.contract import Endpoint
from tollway_common.errors import InvalidRequest
from tollway_edge.azure_paths import AzurePath, check_api_version, read_path
from tollway_edge.body import parse_body


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (
            "/openai/deployments/gpt-4o/chat/completions",
            AzurePath("/v1/chat/completions", "gpt-4o"),
        ),
        ("/openai/deployments/davinci/completions", AzurePath("/v1/completions", "davinci")),
        ("/openai/deployments/ada/embeddings", AzurePath("/v1/embeddings", "ada")),
        (
            "/openai/v1/deployments/gpt-4o/chat/completions",
            AzurePath("/v1/chat/completions", "gpt-4o"),
        ),
        # An alias with a slash (sent percent-encoded, decoded by the server) stays whole.
        (
            "/openai/deployments/team/gpt-4o/chat/completions",
            AzurePath("/v1/chat/completions", "team/gpt-4o"),
        ),
        (
            "/openai/deployments/dall-e/images/generations",
            AzurePath("/v1/images/generations", "dall-e"),
        ),
        ("/openai/deployments/gpt-4o/extensions/chat", AzurePath("/v1/extensions/chat", "gpt-4o")),
        ("/openai/v1/chat/completions", AzurePath("/v1/chat/completions")),
        ("/openai/v1/models", AzurePath("/v1/models")),
        ("/openai/models", AzurePath("/v1/models")),
        ("/openai/files", AzurePath("/v1/files")),
        ("/openai/v1", AzurePath("/v1")),
        # What `AzureOpenAI(...).responses` calls: Azure's Responses API is not per deployment.
        ("/openai/responses", AzurePath("/v1/responses")),
        ("/openai/v1/responses", AzurePath("/v1/responses")),
        ("/openai/responses/resp_1/input_items", AzurePath("/v1/responses/resp_1/input_items")),
    ],
)
def test_azure_paths_read_as_openai_paths(path: str, expected: AzurePath) -> None:
    assert read_path(path) == expected


def test_the_deployment_of_a_chat_path_is_not_taken_for_a_completions_one() -> None:
    assert read_path("/openai/deployments/chat/completions") == AzurePath("/v1/completions", "chat")


@pytest.mark.parametrize(
    "path",
    [
        "/openai/deployments//chat/completions",
        "/openai/deployments/x//chat/completions",
        "/openai/deployments/" + "d" * 257 + "/chat/completions",
    ],
)
def test_an_empty_or_overlong_deployment_is_refused(path: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        read_path(path)
    assert refused.value.param == "deployment"


@pytest.mark.parametrize(
    "query",
    [
        b"",
        b"api-version=2024-10-21",
        b"api-version=2025-04-01-preview",
        b"api-version=v1",
        b"api-version=preview&x=1",
    ],
)
def test_any_version_shaped_api_version_or_none_is_accepted(query: bytes) -> None:
    check_api_version(query)


@pytest.mark.parametrize(
    "query",
    [
        b"api-version=",
        b"api-version=2024-10-21%0A",
        b"api-version=%3Cscript%3E",
        b"api-version=" + b"9" * 65,
    ],
)
def test_a_malformed_api_version_is_refused_naming_the_parameter(query: bytes) -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_api_version(query)
    assert refused.value.param == "api-version"


@pytest.mark.parametrize(
    "raw",
    [b'{"messages":[{"role":"user","content":"x"}]}', b'{"model":"other","messages":[{}]}'],
)
def test_the_paths_deployment_is_the_bodys_model_whatever_the_body_says(raw: bytes) -> None:
    body, head = parse_body(raw, Endpoint.CHAT_COMPLETIONS, model="gpt-4o-prod")
    assert (body["model"], head.model) == ("gpt-4o-prod", "gpt-4o-prod")
