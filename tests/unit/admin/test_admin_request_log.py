"""The request log as admin shows it: checked filters (a 400 naming the parameter), the page
cursor, attempts read from their stored form, and one request's view."""

from __future__ import annotations

import pytest

from tollway_admin.request_log import (
    Attempt,
    checked_request_id,
    checked_status,
    cursor_of,
    detail_view,
    parse_attempt,
    parse_cursor,
)
from tollway_common.contract import (
    BodyEvent,
    Endpoint,
    Principal,
    RequestDetailReply,
    RequestRecord,
    UsageRow,
)
from tollway_common.errors import InvalidRequest

ROW = UsageRow(
    request_id="0192f0c4-aaaa-7000-8000-000000000001",
    received_at_ms=1_765_000_000_123,
    key_id="key_a",
    model_alias="gpt-test",
    deployment="east",
    provider="openai",
    endpoint="chat_completions",
    status_code=200,
    error_type="",
    prompt_tokens=3,
    completion_tokens=4,
    total_tokens=7,
    latency_ms=12.5,
    ttft_ms=None,
    stream=False,
    attempts=["west/acct-2:upstream_error", "east:ok"],
)


@pytest.mark.parametrize(("given", "expected"), [("", ""), ("4XX", "4xx"), (" 429 ", "429")])
def test_statuses_are_normalised(given: str, expected: str) -> None:
    assert checked_status(given) == expected


@pytest.mark.parametrize("status", ["teapot", "42", "600", "4xx,5xx"])
def test_other_statuses_are_a_400_naming_status(status: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        checked_status(status)
    assert raised.value.param == "status"


@pytest.mark.parametrize("request_id", ["", "a b", "../keys", "a" * 129])
def test_a_malformed_request_id_is_a_400(request_id: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        checked_request_id(request_id)
    assert raised.value.param == "request_id"


def test_a_cursor_names_the_row_the_next_page_starts_after() -> None:
    cursor = cursor_of(ROW)
    assert parse_cursor(cursor) == (ROW.received_at_ms, ROW.request_id)
    assert parse_cursor("") == (0, "")


@pytest.mark.parametrize("cursor", ["x", "12", "_abc", "12_a b", "1234567890123456_a"])
def test_a_cursor_not_given_out_is_a_400(cursor: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        parse_cursor(cursor)
    assert raised.value.param == "cursor"


@pytest.mark.parametrize(
    ("stored", "attempt"),
    [
        ("east:ok", Attempt("east", "", "ok")),
        ("west/acct-2:rate_limited", Attempt("west", "acct-2", "rate_limited")),
        ("east", Attempt("east", "", "")),
    ],
)
def test_attempts_are_read_from_their_stored_form(stored: str, attempt: Attempt) -> None:
    assert parse_attempt(stored) == attempt


def test_nothing_stored_is_no_view() -> None:
    assert detail_view("req", RequestDetailReply()) is None


def test_a_request_view_shows_the_billed_row_its_attempts_events_and_body() -> None:
    edge = ROW.model_copy(update={"status_code": 502, "usage_estimated": True})
    body = BodyEvent(
        request_id=ROW.request_id,
        received_at_ms=ROW.received_at_ms,
        principal=Principal(key_id="key_a"),
        model_alias="gpt-test",
        endpoint=Endpoint.CHAT_COMPLETIONS,
        request_body='{"messages": "[REDACTED:email]"}',
        response_body="hello",
        redactions={"email": 1},
    )
    reply = RequestDetailReply(
        records=[
            RequestRecord(source="router", row=ROW, router_id="r1", upstream_latency_ms=9.0),
            RequestRecord(source="edge", row=edge, inserted_at_ms=5),
        ],
        bodies=[body],
    )
    view = detail_view(ROW.request_id, reply)
    assert view is not None
    assert view["usage"] == ROW.model_dump(mode="json")
    assert view["timings"] == {"latency_ms": 12.5, "ttft_ms": None, "upstream_latency_ms": 9.0}
    assert view["attempts"] == [
        {"deployment": "west", "credential": "acct-2", "outcome": "upstream_error", "ok": False},
        {"deployment": "east", "credential": "", "outcome": "ok", "ok": True},
    ]
    assert [(e["source"], e["status_code"], e["usage_estimated"]) for e in view["events"]] == [
        ("router", 200, False),
        ("edge", 502, True),
    ]
    assert view["body"]["request_body"] == body.request_body
    assert view["body"]["redactions"] == {"email": 1}


def test_bodies_without_a_usage_row_still_show() -> None:
    body = BodyEvent(
        request_id="req",
        received_at_ms=1,
        principal=Principal(key_id="key_a"),
        model_alias="m",
        endpoint=Endpoint.CHAT_COMPLETIONS,
    )
    view = detail_view("req", RequestDetailReply(bodies=[body]))
    assert view is not None
    assert (view["usage"], view["attempts"], view["body"]["status_code"]) == (None, [], 200)
