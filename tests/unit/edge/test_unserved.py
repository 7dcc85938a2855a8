"""The /v1 paths no route serves: each OpenAI endpoint is named by its capability."""

from __future__ import annotations

import re
from pathlib import Path

import openai
import pytest

from tollway_edge.routes.unserved import unserved_error

SDK_RESOURCES = Path(openai.__file__).parent / "resources"
# The paths the edge serves itself, with the method the SDK calls them with.
SERVED = {
    "chat/completions",
    "completions",
    "embeddings",
    "moderations",
    "images/generations",
    "images/edits",
    "images/variations",
    "audio/transcriptions",
    "audio/translations",
    "audio/speech",
    "models",
    "models/{model}",
    "responses",
    "responses/{response_id}",
    "responses/{response_id}/cancel",
    "responses/{response_id}/input_items",
    "files",
    "files/{file_id}",
    "files/{file_id}/content",
    "batches",
    "batches/{batch_id}",
    "batches/{batch_id}/cancel",
}
_PATH_LITERAL = re.compile(
    r'(?:path_template\(|_(?:get|post|put|patch|delete|get_api_list)\(\s*)"/([^"]+)"'
)


def _sdk_paths() -> set[str]:
    """Every path the locked openai SDK calls, as written in its resources (`{id}` templates)."""
    return {
        match[1].partition("?")[0]
        for source in SDK_RESOURCES.rglob("*.py")
        for match in _PATH_LITERAL.finditer(source.read_text())
    }


def test_the_sdk_scan_finds_the_paths_it_should() -> None:
    paths = _sdk_paths()
    assert {"chat/completions", "embeddings", "images/generations", "files", "batches"} <= paths
    assert len(paths) > 100


def test_every_path_the_openai_sdk_calls_is_served_or_named() -> None:
    unnamed = sorted(
        path
        for path in _sdk_paths() - SERVED
        if unserved_error("POST", f"/v1/{path}").code_override != "unsupported_endpoint"
    )
    assert unnamed == [], "name their capability in routes/unserved.py UNSERVED"


@pytest.mark.parametrize(
    ("method", "path", "capability"),
    [
        ("GET", "/v1/images/generations", "POST /v1/images/generations"),
        ("GET", "/v1/audio/speech", "POST /v1/audio/speech"),
        ("POST", "/v1/audio/voices", "custom voices"),
        ("GET", "/v1/rerank", "POST /v1/rerank is served"),
        ("GET", "/v1/vector_stores", "vector stores"),
        ("POST", "/v1/responses/compact", "compacting responses"),
        ("GET", "/v1/chat/completions", "stored chat completions"),
        ("GET", "/v1/fine_tuning/jobs/ftjob-1/events", "fine-tuning"),
    ],
)
def test_an_openai_endpoint_not_served_names_its_capability(
    method: str, path: str, capability: str
) -> None:
    error = unserved_error(method, path)
    assert (error.status, error.body().code) == (404, "unsupported_endpoint")
    assert f"{method} {path}" in error.message
    assert capability in error.message


@pytest.mark.parametrize("path", ["/v1/nonsense", "/v1", "/v1/filesystem", "/v1/chat/other"])
def test_any_other_path_is_not_found(path: str) -> None:
    error = unserved_error("GET", path)
    assert (error.status, error.body().code) == (404, "not_found")
    assert path in error.message
