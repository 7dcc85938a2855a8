from __future__ import annotations

import csv
import io

import pytest

from tollway_admin.exports import AUDIT_CSV_COLUMNS, audit_csv, audit_csv_values, csv_line
from tollway_common.contract import AuditActor, AuditEvent


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_cells_a_spreadsheet_would_run_are_quoted(cell: str) -> None:
    line = csv_line(["key", cell]).decode()
    assert line.split(",", 1)[1].strip().strip('"').startswith("'"), line


def test_numbers_and_plain_text_are_written_as_they_are() -> None:
    assert csv_line(["gpt-4o", -0.5, 3, None]) == b"gpt-4o,-0.5,3,\n"


def test_an_audit_event_is_one_csv_line_with_its_records_as_json() -> None:
    event = AuditEvent(
        event_id="e1",
        at_ms=1_796_601_600_123,
        actor=AuditActor(kind="oidc", id="alice", roles=["admin"]),
        action="team.update",
        resource_type="team",
        resource_id="ml",
        before={"name": "ML"},
        after={"name": "=cmd"},
    )
    lines = list(csv.reader(io.StringIO(csv_line(audit_csv_values(event)).decode())))
    assert lines == [
        [
            "2026-12-07T00:00:00.123Z",
            "oidc",
            "alice",
            "team.update",
            "team",
            "ml",
            '{"name":"ML"}',
            '{"name":"=cmd"}',
            "e1",
        ]
    ]
    assert len(AUDIT_CSV_COLUMNS) == len(lines[0])


async def test_the_audit_csv_has_a_header_and_a_line_per_event() -> None:
    event = AuditEvent(
        event_id="e1",
        at_ms=0,
        actor=AuditActor(kind="bootstrap", id="bootstrap-token"),
        action="org.create",
        resource_type="org",
        resource_id="acme",
        after={"org_id": "acme"},
    )
    body = b"".join([chunk async for chunk in audit_csv([event, event])]).decode()
    assert body.splitlines()[0] == ",".join(AUDIT_CSV_COLUMNS)
    assert len(body.splitlines()) == 3
