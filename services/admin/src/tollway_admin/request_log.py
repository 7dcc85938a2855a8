"""The request log as admin shows it (pure; `routes/requests.py` and the UI's requests pages
ask metering and use it): checked filters, the page cursor, a request's attempts read from
their stored form, and one request's detail view."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tollway_common.contract import (
    REQUEST_STATUS_CLASSES,
    BodyEvent,
    RequestDetailReply,
    UsageRow,
)
from tollway_common.errors import InvalidRequest
from tollway_common.ids import REQUEST_ID_PATTERN

MAX_PAGE = 500
DEFAULT_PAGE = 50
_CODE = re.compile(r"^[1-5][0-9]{2}\Z")
_CURSOR = re.compile(r"^([0-9]{1,15})_(.+)\Z")


def checked_status(status: str) -> str:
    """`status` as the query takes it: empty, a class (`4xx`, `error`, ...) or one code."""
    status = status.strip().lower()
    if status and status not in REQUEST_STATUS_CLASSES and not _CODE.match(status):
        raise InvalidRequest(
            f"status must be a code like 429 or one of {', '.join(REQUEST_STATUS_CLASSES)}.",
            param="status",
        )
    return status


def checked_request_id(request_id: str, param: str = "request_id") -> str:
    if not REQUEST_ID_PATTERN.match(request_id):
        raise InvalidRequest(
            "A request id holds 1-128 letters, digits and . _ : - (as in the x-request-id "
            "header of a response).",
            param=param,
        )
    return request_id


def cursor_of(row: UsageRow) -> str:
    """Where the next page starts: after this row (pages run newest first)."""
    return f"{row.received_at_ms}_{row.request_id}"


def parse_cursor(cursor: str) -> tuple[int, str]:
    """(received_at_ms, request_id) from `cursor_of`; empty: the first page."""
    if not cursor:
        return 0, ""
    match = _CURSOR.match(cursor)
    if match is None or not REQUEST_ID_PATTERN.match(match.group(2)):
        raise InvalidRequest(
            "cursor must be the next_cursor of the page before, as returned.", param="cursor"
        )
    return int(match.group(1)), match.group(2)


@dataclass(frozen=True)
class Attempt:
    """One upstream call, from its stored form `deployment[/credential]:ok` or
    `deployment[/credential]:<error code>`."""

    deployment: str
    credential: str
    outcome: str

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def parse_attempt(text: str) -> Attempt:
    target, _, outcome = text.rpartition(":")
    if not target:  # no outcome recorded: the whole text names the target
        target, outcome = outcome, ""
    deployment, _, credential = target.partition("/")
    return Attempt(deployment=deployment, credential=credential, outcome=outcome)


def attempts_of(row: UsageRow) -> list[Attempt]:
    return [parse_attempt(text) for text in row.attempts]


def body_view(body: BodyEvent) -> dict[str, Any]:
    return {
        "stream": body.stream,
        "status_code": body.status_code,
        "request_body": body.request_body,
        "response_body": body.response_body,
        "request_truncated": body.request_truncated,
        "response_truncated": body.response_truncated,
        "redactions": body.redactions,
    }


def detail_view(request_id: str, reply: RequestDetailReply) -> dict[str, Any] | None:
    """One request as the API returns it; None when nothing of it is stored (or in scope).

    `usage` is the billed row (the router's when there is one); `events` every stored usage
    event with its source; `attempts` the billed row's upstream calls; `body` the redacted
    bodies where the caller's policy logged them.
    """
    if not reply.records and not reply.bodies:
        return None
    billed = reply.records[0] if reply.records else None
    return {
        "object": "request",
        "request_id": request_id,
        "usage": billed.row.model_dump(mode="json") if billed else None,
        "timings": {
            "latency_ms": billed.row.latency_ms,
            "ttft_ms": billed.row.ttft_ms,
            "upstream_latency_ms": billed.upstream_latency_ms,
        }
        if billed
        else None,
        "attempts": [
            {**vars(attempt), "ok": attempt.ok}
            for attempt in (attempts_of(billed.row) if billed else [])
        ],
        "events": [
            {
                "source": record.source,
                "router_id": record.router_id,
                "key_name": record.key_name,
                "status_code": record.row.status_code,
                "usage_estimated": record.row.usage_estimated,
                "inserted_at_ms": record.inserted_at_ms,
            }
            for record in reply.records
        ],
        "body": body_view(reply.bodies[0]) if reply.bodies else None,
    }
