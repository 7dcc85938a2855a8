"""What the admin shows to whom before sign-in: only to its own names (a DNS-rebinding page
that reaches it under the attacker's name gets 400 before any credential is looked at), and
no API docs unless asked for."""

from __future__ import annotations

import os

import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient
from tests.support.openai_schema import validate_openai

from tollway_admin.app import create_app
from tollway_admin.settings import AdminSettings

TOKEN = "tw-admin-host-check-0123456789"


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> TestClient:
    for key in list(os.environ):
        if key.startswith("TOLLWAY_"):
            monkeypatch.delenv(key)
    app = create_app(AdminSettings(token=SecretStr(TOKEN), trusted_hosts=["admin.corp.example"]))
    return TestClient(app, raise_server_exceptions=False)


def test_a_request_under_another_name_is_refused_with_the_token(client: TestClient) -> None:
    response = client.get(
        "http://attacker.example/api/v1/keys", headers={"authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 400
    validate_openai("ErrorResponse", response.json())
    assert response.json()["error"]["code"] == "untrusted_host"
    assert response.headers["x-request-id"]
    assert response.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("base", ["http://admin.corp.example", "http://127.0.0.1:8081"])
def test_its_own_names_and_ip_addresses_are_served(client: TestClient, base: str) -> None:
    assert client.get(f"{base}/healthz").status_code == 200


def test_api_docs_are_off_unless_asked_for(client: TestClient) -> None:
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert client.get(f"http://127.0.0.1{path}").status_code == 404, path
    app = create_app(AdminSettings(api_docs=True))
    with_docs = TestClient(app, base_url="http://localhost")
    assert with_docs.get("/openapi.json").status_code == 200
