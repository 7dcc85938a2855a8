"""File and batch records as clients see them (the openai SDK's types), whose they are, and the
lines of a batch's output and error files."""

from __future__ import annotations

from openai.types import Batch, FileObject

from tollway_common.batches import (
    BatchRecord,
    BatchStatus,
    FileRecord,
    RequestCounts,
    derived_file_id,
    line_request_id,
    output_line,
    owner_of,
    skipped_line,
)
from tollway_common.contract import Principal

KEY = Principal(key_id="key_1", team_id="t1")


def test_a_file_record_is_an_openai_file_object() -> None:
    record = FileRecord(
        id="file-abc", owner="o", bytes=12, created_at=1, filename="in.jsonl", purpose="batch"
    )
    shown = record.openai()
    assert FileObject.model_validate(shown).model_dump(exclude_none=True) == shown
    assert "owner" not in shown


def test_a_batch_record_is_an_openai_batch_without_the_owner() -> None:
    record = BatchRecord(
        id="batch_abc",
        owner="o",
        principal=KEY,
        endpoint="/v1/chat/completions",
        input_file_id="file-abc",
        created_at=1,
        status=BatchStatus.COMPLETED,
        completed_at=5,
        output_file_id="file-out",
        request_counts=RequestCounts(total=3, completed=2, failed=1),
        metadata={"job": "x"},
    )
    shown = record.openai()
    batch = Batch.model_validate(shown)
    assert (batch.status, batch.output_file_id, batch.error_file_id) == (
        "completed",
        "file-out",
        None,
    )
    assert batch.request_counts is not None
    assert batch.request_counts.failed == 1
    assert {"owner", "principal", "error_file_id", "cancelled_at"}.isdisjoint(shown)


def test_each_key_and_each_keyless_user_owns_apart() -> None:
    owners = {
        owner_of(KEY),
        owner_of(Principal(key_id="key_2", team_id="t1")),
        owner_of(Principal(key_id="", user_id="alice", auth="jwt")),
        owner_of(Principal(key_id="", user_id="bob", auth="jwt")),
    }
    assert len(owners) == 4
    # One key's owner is its key, whoever the key's user is.
    assert owner_of(KEY) == owner_of(KEY.model_copy(update={"user_id": "someone"}))
    assert all(owner.isalnum() for owner in owners)


def test_output_and_error_lines_have_openais_batch_output_shape() -> None:
    answered = output_line("batch_1", 3, "c3", "batch_1-3", 200, {"id": "chatcmpl-1"})
    assert answered == {
        "id": answered["id"],
        "custom_id": "c3",
        "response": {"status_code": 200, "request_id": "batch_1-3", "body": {"id": "chatcmpl-1"}},
        "error": None,
    }
    skipped = skipped_line("batch_1", 3, "c3", "batch_cancelled", "cancelled")
    assert skipped["response"] is None
    assert skipped["error"] == {"code": "batch_cancelled", "message": "cancelled"}
    # One line, one id: the same wherever and however often it is written.
    assert skipped["id"] == answered["id"]
    assert answered["id"].startswith("batch_req_")
    assert output_line("batch_1", 4, "c4", "r", 200, None)["id"] != answered["id"]


def test_a_lines_request_id_and_a_batchs_files_are_the_same_every_time() -> None:
    assert line_request_id("batch_1", 7) == "batch_1-7"
    assert derived_file_id("batch_1", "output") == derived_file_id("batch_1", "output")
    assert derived_file_id("batch_1", "output") != derived_file_id("batch_1", "error")
    assert derived_file_id("batch_1", "output").startswith("file-")
