"""The pure rules of a batch's progress and its end: counts only grow, one router claims the
finalisation (another takes over only a claim gone quiet, or its own line come back), and a
line's answer or error becomes its output line."""

from __future__ import annotations

import time

import orjson
import pytest

from tollway_common.batches import BatchRecord, BatchStatus, RequestCounts
from tollway_common.contract import BatchLine, Endpoint, ErrorReply, Principal
from tollway_common.openai_errors import OpenAIErrorBody
from tollway_router.batch.drain import infer_request_for, output_of
from tollway_router.batch.results import STALE_FINALIZING_S, claim_finalising, grown_counts
from tollway_router.replies import Collector

PRINCIPAL = Principal(key_id="key_1")


def _record(status: BatchStatus = BatchStatus.IN_PROGRESS, **fields: object) -> BatchRecord:
    return BatchRecord(
        id="batch_1",
        owner="o",
        principal=PRINCIPAL,
        endpoint="/v1/chat/completions",
        input_file_id="file-1",
        created_at=1,
        status=status,
        request_counts=RequestCounts(total=10, completed=4, failed=1),
        **fields,
    )


def _line() -> BatchLine:
    return BatchLine(
        batch_id="batch_1",
        owner="o",
        line_no=7,
        custom_id="c7",
        endpoint=Endpoint.CHAT_COMPLETIONS,
        principal=PRINCIPAL,
        alias="demo",
        body={"model": "demo", "messages": []},
    )


def test_counts_only_grow() -> None:
    grown = grown_counts(_record(), RequestCounts(total=10, completed=6, failed=1))
    assert grown is not None
    assert grown.request_counts == RequestCounts(total=10, completed=6, failed=1)
    # A count read before another router's write does not take it back.
    assert grown_counts(_record(), RequestCounts(total=10, completed=3, failed=1)) is None


@pytest.mark.parametrize(
    "status", [BatchStatus.VALIDATING, BatchStatus.IN_PROGRESS, BatchStatus.CANCELLING]
)
def test_a_running_batch_is_claimed_for_finalising(status: BatchStatus) -> None:
    claimed = claim_finalising(_record(status), take_over=False)
    assert claimed is not None
    assert claimed.status is BatchStatus.FINALIZING
    assert claimed.finalizing_at is not None


@pytest.mark.parametrize(
    "status", [BatchStatus.COMPLETED, BatchStatus.CANCELLED, BatchStatus.FAILED]
)
def test_a_finished_batch_is_never_claimed_again(status: BatchStatus) -> None:
    assert claim_finalising(_record(status), take_over=True) is None


def test_a_fresh_claim_is_taken_over_only_by_a_line_that_came_back() -> None:
    fresh = _record(BatchStatus.FINALIZING, finalizing_at=int(time.time()))
    assert claim_finalising(fresh, take_over=False) is None
    assert claim_finalising(fresh, take_over=True) is not None
    stale = _record(BatchStatus.FINALIZING, finalizing_at=int(time.time()) - STALE_FINALIZING_S)
    assert claim_finalising(stale, take_over=False) is not None


async def test_an_answer_is_an_output_line_and_an_error_an_error_line() -> None:
    answered = Collector(None, "r1")  # type: ignore[arg-type]
    await answered.chunk(orjson.dumps({"id": "chatcmpl-1"}))
    ok, line = output_of(_line(), "batch_1-7", answered)
    assert ok
    assert line["response"] == {
        "status_code": 200,
        "request_id": "batch_1-7",
        "body": {"id": "chatcmpl-1"},
    }
    assert answered.started
    failed = Collector(None, "r1")  # type: ignore[arg-type]
    failed.error_reply = ErrorReply(
        status=400, error=OpenAIErrorBody(message="bad", type="invalid_request_error")
    )
    ok, line = output_of(_line(), "batch_1-7", failed)
    assert not ok
    assert line["response"]["status_code"] == 400
    assert line["response"]["body"]["error"]["message"] == "bad"


def test_a_line_is_served_as_its_batch_owner_under_a_stable_request_id() -> None:
    infer = infer_request_for(_line(), timeout_s=60)
    assert (infer.request_id, infer.batch_id) == ("batch_1-7", "batch_1")
    assert infer.principal == PRINCIPAL
    assert infer.route.alias == "demo"
    assert not infer.stream
    assert infer.deadline_ms - infer.received_at_ms == 60_000
