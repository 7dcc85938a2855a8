"""The filters admin's read routes take as query parameters: one declaration, so the request
log, every usage route and the audit log refuse the same bad values with a 400 naming the
parameter, in admin's error shape, before any question goes to metering (these apps have no
NATS connection: a question asked would be a 500)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from starlette.testclient import TestClient
from tests.support.openai_schema import validate_openai

from tollway_admin.app import create_app
from tollway_admin.routes.filters import (
    MAX_AUDIT_OFFSET,
    MAX_PAGE_ROWS,
    AuditFilter,
    RequestLogFilter,
    UsageRowFilter,
)
from tollway_admin.settings import AdminSettings
from tollway_common.contract import (
    SUMMARY_BUCKETS,
    SUMMARY_DIMENSIONS,
    SUMMARY_ORDERS,
    AuditQuery,
    UsageFilter,
)

TOKEN = "tw-admin-filters-0123456789"
LOG = "/api/v1/requests"
SUMMARY = "/api/v1/usage/summary"
USAGE = [SUMMARY, "/api/v1/usage/burn-down", "/api/v1/usage/export"]
AUDIT = ["/api/v1/audit", "/api/v1/audit/export"]
AUDIT_NAMES = ["actor_id", "action", "resource_type", "resource_id"]
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


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"group_by": "request_id"}, "group_by"),
        ({"group_by": "team_id; DROP TABLE x"}, "group_by"),
        ({"bucket": "week"}, "bucket"),
        ({"order_by": "latency"}, "order_by"),
        ({"order_by": ""}, "order_by"),
        ({"limit": 0}, "limit"),
        ({"limit": MAX_PAGE_ROWS + 1}, "limit"),
        ({"limit": "all"}, "limit"),
    ],
)
def test_a_summary_metering_would_refuse_is_a_400_at_admin(
    admin: TestClient, params: dict[str, Any], named: str
) -> None:
    assert _refused(admin, SUMMARY, params) == f"query.{named}"


@pytest.mark.parametrize("path", AUDIT)
@pytest.mark.parametrize(
    ("params", "named"),
    [
        *BAD[:3],
        ({"actor_id": "a" * 201}, "actor_id"),
        ({"action": "a" * 201}, "action"),
        ({"resource_type": "r" * 201}, "resource_type"),
        ({"resource_id": "r" * 201}, "resource_id"),
    ],
)
def test_a_bad_audit_filter_value_is_a_400_naming_it(
    admin: TestClient, path: str, params: dict[str, Any], named: str
) -> None:
    assert _refused(admin, path, params) == f"query.{named}"


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": MAX_PAGE_ROWS + 1}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": MAX_AUDIT_OFFSET + 1}, "offset"),
        ({"offset": "next"}, "offset"),
    ],
)
def test_an_audit_page_out_of_range_is_a_400_naming_it(
    admin: TestClient, params: dict[str, Any], named: str
) -> None:
    assert _refused(admin, "/api/v1/audit", params) == f"query.{named}"


def test_the_openapi_document_lists_the_summary_choices_and_the_audit_limits(
    admin: TestClient,
) -> None:
    document = admin.get("/openapi.json").json()
    summary = {name: p["schema"] for name, p in _parameters(document, SUMMARY).items()}
    assert summary["group_by"]["enum"] == ["", *SUMMARY_DIMENSIONS]
    assert summary["bucket"]["enum"] == ["", *SUMMARY_BUCKETS]
    assert summary["order_by"]["enum"] == list(SUMMARY_ORDERS)
    assert (summary["limit"]["minimum"], summary["limit"]["maximum"]) == (1, MAX_PAGE_ROWS)
    log = _parameters(document, LOG)
    for path in AUDIT:
        audit = _parameters(document, path)
        assert {"since_ms", "until_ms", *AUDIT_NAMES} <= set(audit)
        assert audit["since_ms"] == log["since_ms"]
        assert all(audit[name]["schema"]["maxLength"] == 200 for name in AUDIT_NAMES)
    audit_page = _parameters(document, "/api/v1/audit")
    assert audit_page["offset"]["schema"]["maximum"] == MAX_AUDIT_OFFSET


def test_the_audit_filter_builds_the_query_the_routes_ask_metering_with() -> None:
    app = FastAPI()

    @app.get("/audit")
    def audit(flt: AuditFilter) -> dict[str, Any]:
        return flt.model_dump()

    picked: dict[str, Any] = {"since_ms": 5, "until_ms": 9, "action": "team.update"}
    assert TestClient(app).get("/audit", params=picked).json() == (
        AuditQuery(**picked).model_dump()
    )
