"""The filter admin's read routes take as query parameters: one declaration, so the request log
and every usage route refuse the same bad values with a 400 naming the parameter, in admin's
error shape, before any question goes to metering."""

from __future__ import annotations

import os
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from starlette.testclient import TestClient
from tests.support.openai_schema import validate_openai

from tollway_admin.app import create_app
from tollway_admin.routes.filters import RequestLogFilter, UsageRowFilter
from tollway_admin.settings import AdminSettings
from tollway_common.contract import UsageFilter

TOKEN = "tw-admin-filters-0123456789"
LOG = "/api/v1/requests"
USAGE = ["/api/v1/usage/summary", "/api/v1/usage/burn-down", "/api/v1/usage/export"]
NAMES = ["key_id", "user_id", "team_id", "org_id", "model_alias", "provider", "deployment"]
BAD: list[tuple[dict[str, Any], str]] = [
    ({"since_ms": -1}, "since_ms"),
    ({"until_ms": 2**53 + 1}, "until_ms"),
    ({"since_ms": "yesterday"}, "since_ms"),
    ({"key_id": "k" * 201}, "key_id"),
    ({"deployment": "d" * 201}, "deployment"),
]


@pytest.fixture
def admin(monkeypatch: pytest.MonkeyPatch) -> TestClient:
    for key in list(os.environ):
        if key.startswith("TOLLWAY_"):
            monkeypatch.delenv(key)
    app = create_app(AdminSettings(token=SecretStr(TOKEN), api_docs=True))
    return TestClient(
        app,
        base_url="http://localhost",
        headers={"authorization": f"Bearer {TOKEN}"},
        raise_server_exceptions=False,
    )


def _refused(admin: TestClient, path: str, params: dict[str, Any]) -> str | None:
    response = admin.get(path, params=params)
    assert response.status_code == 400, (path, params, response.status_code)
    body = response.json()
    validate_openai("ErrorResponse", body)
    assert body["error"]["type"] == "invalid_request_error"
    param: str | None = body["error"]["param"]
    return param


@pytest.mark.parametrize("path", [LOG, *USAGE])
@pytest.mark.parametrize(("params", "named"), BAD)
def test_a_bad_filter_value_is_a_400_naming_it_on_every_read_route(
    admin: TestClient, path: str, params: dict[str, Any], named: str
) -> None:
    assert _refused(admin, path, params) == f"query.{named}"


@pytest.mark.parametrize("path", USAGE)
@pytest.mark.parametrize(
    ("params", "named"),
    [({"credential": "c" * 201}, "credential"), ({"errors_only": "perhaps"}, "errors_only")],
)
def test_the_usage_routes_check_their_own_two_filters_too(
    admin: TestClient, path: str, params: dict[str, Any], named: str
) -> None:
    assert _refused(admin, path, params) == f"query.{named}"


def _parameters(document: dict[str, Any], path: str) -> dict[str, Any]:
    return {p["name"]: p for p in document["paths"][path]["get"]["parameters"]}


def test_the_openapi_document_declares_one_filter_for_the_log_and_usage(
    admin: TestClient,
) -> None:
    document = admin.get("/openapi.json").json()
    log = _parameters(document, LOG)
    shared = ["since_ms", "until_ms", *NAMES]
    assert set(log) == {*shared, "status", "request_id", "limit", "cursor"}
    for path in USAGE:
        usage = _parameters(document, path)
        assert {*shared, "credential", "errors_only"} <= set(usage)
        assert {name: usage[name] for name in shared} == {name: log[name] for name in shared}
    assert log["since_ms"]["schema"]["minimum"] == 0
    assert log["until_ms"]["schema"]["maximum"] == 2**53
    assert all(log[name]["schema"]["maxLength"] == 200 for name in NAMES)


def test_the_filters_build_the_usage_filter_the_routes_ask_metering_with() -> None:
    app = FastAPI()

    @app.get("/log")
    def log(flt: RequestLogFilter) -> dict[str, Any]:
        return flt.model_dump()

    @app.get("/usage")
    def usage(flt: UsageRowFilter) -> dict[str, Any]:
        return flt.model_dump()

    client = TestClient(app)
    picked: dict[str, Any] = {"since_ms": 5, "until_ms": 9, "team_id": "t", "deployment": "east"}
    assert client.get("/log", params=picked).json() == UsageFilter(**picked).model_dump()
    assert client.get("/log", params={**picked, "credential": "c"}).json() == (
        UsageFilter(**picked).model_dump()
    )
    assert (
        client.get(
            "/usage", params={**picked, "credential": "acct-2", "errors_only": "true"}
        ).json()
        == UsageFilter(**picked, credential="acct-2", errors_only=True).model_dump()
    )
