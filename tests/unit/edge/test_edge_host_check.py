"""The edge answers only to its own names (and IP addresses); others get an OpenAI-shaped 400."""

from __future__ import annotations

import os

import pytest
from starlette.testclient import TestClient
from tests.support.openai_schema import validate_openai

from tollway_edge.app import create_app
from tollway_edge.settings import EdgeSettings


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> TestClient:
    for key in list(os.environ):
        if key.startswith("TOLLWAY_"):
            monkeypatch.delenv(key)
    return TestClient(create_app(EdgeSettings()), raise_server_exceptions=False)


def test_an_unknown_host_gets_400_before_the_inference_path(client: TestClient) -> None:
    response = client.post(
        "http://attacker.example/v1/chat/completions",
        json={"model": "m", "messages": []},
        headers={"authorization": "Bearer sk-anything"},
    )
    assert response.status_code == 400
    validate_openai("ErrorResponse", response.json())
    assert response.json()["error"]["code"] == "untrusted_host"
    assert response.headers["x-request-id"]


@pytest.mark.parametrize("base", ["http://localhost:8080", "http://edge:8080", "http://127.0.0.1"])
def test_the_default_names_of_make_run_and_compose_are_served(
    client: TestClient, base: str
) -> None:
    assert client.get(f"{base}/healthz").status_code == 200
