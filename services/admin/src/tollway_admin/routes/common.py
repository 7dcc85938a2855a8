"""What every admin route needs: the store, the caller, revisions as ETags."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel

from tollway_admin.references import ControlState, new_problems
from tollway_admin.secret_check import redact_headers
from tollway_admin.store import ControlStore
from tollway_common.errors import Conflict, InvalidRequest


def store_of(request: Request) -> ControlStore:
    store: ControlStore = request.app.state.store
    return store


def expected_revision(request: Request, current: int) -> int:
    """The revision the caller read (`If-Match`), or the current one when it sent none."""
    header = request.headers.get("if-match")
    if header is None:
        return current
    try:
        wanted = int(header.strip().strip('"'))
    except ValueError:
        raise InvalidRequest("If-Match must be a revision number.", param="If-Match") from None
    if wanted != current:
        raise Conflict(
            f"The record is at revision {current}, not {wanted}; read it again and retry."
        )
    return wanted


def with_revision(
    record: BaseModel, revision: int, hidden: set[str] | None = None
) -> dict[str, Any]:
    return {**view(record, hidden), "revision": revision}


def view(record: BaseModel, hidden: set[str] | None = None) -> dict[str, Any]:
    """A record as the API shows it: model headers with literal values hidden."""
    return redact_headers(record.model_dump(mode="json", exclude=hidden))


def refuse_new_problems(before: ControlState, after: ControlState, *, conflict: bool) -> None:
    found = new_problems(before, after)
    if not found:
        return
    message = "; ".join(found) + "."
    raise Conflict(message) if conflict else InvalidRequest(message)
