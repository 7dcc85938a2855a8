"""A batch's results: each line's output line stored once in `TOLLWAY_BATCH_RESULTS`, the
batch's progress counted from that stream, and, once every line has one, the output and error
files written and the batch finished.

Progress is read from the stream, never added up: a result published again (a router died
before acking its line) is dropped by its `Nats-Msg-Id`, so the counts cannot double, and a
count written late or twice is harmless (counts only grow). Finalising is claimed with
compare-and-set on `finalizing`; the file ids are derived from the batch id, so a router that
takes over an interrupted finalisation rewrites the same files.
"""

from __future__ import annotations

import logging
import time

import orjson
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from tollway_common import contract
from tollway_common.batch_store import BatchStore
from tollway_common.batches import (
    BATCH_OUTPUT,
    BatchRecord,
    BatchStatus,
    FileRecord,
    RequestCounts,
    derived_file_id,
)
from tollway_common.contract import BatchLine, BatchResult
from tollway_common.file_store import FileStore

log = logging.getLogger(__name__)

# A `finalizing` claim older than this is taken over: its router died while writing.
STALE_FINALIZING_S = 120


class Results:
    def __init__(self, js: JetStreamContext, batches: BatchStore, files: FileStore) -> None:
        self._js = js
        self._batches = batches
        self._files = files

    async def store(self, line: BatchLine, ok: bool, output: dict[str, object]) -> None:
        """Store one line's result; a second store of the same line is dropped by JetStream."""
        payload = contract.encode(BatchResult(line_no=line.line_no, line=output))
        await self._js.publish(
            contract.batch_results_subject(line.batch_id, ok),
            payload,
            headers={contract.HEADER_MSG_ID: f"{line.batch_id}:{line.line_no}"},
        )

    async def counts(self, batch_id: str, total: int) -> RequestCounts:
        info = await self._js.stream_info(
            contract.BATCH_RESULTS_STREAM, subjects_filter=contract.batch_results_filter(batch_id)
        )
        subjects = info.state.subjects or {}
        return RequestCounts(
            total=total,
            completed=subjects.get(contract.batch_results_subject(batch_id, ok=True), 0),
            failed=subjects.get(contract.batch_results_subject(batch_id, ok=False), 0),
        )

    async def progress(self, line: BatchLine, redelivered: bool) -> None:
        """Count the batch's results into its record and finalise it once every line has one.
        A `redelivered` line may take over a finalisation its first router left unfinished."""
        record = await self._batches.get(line.owner, line.batch_id)
        if record is None:
            return
        counts = await self.counts(line.batch_id, record.request_counts.total)
        record = await self._batches.update(
            line.owner, line.batch_id, lambda current: grown_counts(current, counts)
        )
        if record is not None and counts.done >= counts.total:
            await self.finalise(record, counts, take_over=redelivered)

    async def finalise(self, record: BatchRecord, counts: RequestCounts, take_over: bool) -> None:
        won = False

        def claim(current: BatchRecord) -> BatchRecord | None:
            nonlocal won
            claimed = claim_finalising(current, take_over)
            won = claimed is not None
            return claimed

        claimed = await self._batches.update(record.owner, record.id, claim)
        if not won or claimed is None:
            return
        ok, failed = await self._read(record.id)
        output_id = await self._write(claimed, "output", ok)
        error_id = await self._write(claimed, "error", failed)
        now = int(time.time())
        cancelled = claimed.cancelling_at is not None

        def finished(current: BatchRecord) -> BatchRecord | None:
            if current.status is not BatchStatus.FINALIZING:
                return None
            return current.model_copy(
                update={
                    "status": BatchStatus.CANCELLED if cancelled else BatchStatus.COMPLETED,
                    "cancelled_at" if cancelled else "completed_at": now,
                    "output_file_id": output_id,
                    "error_file_id": error_id,
                    "request_counts": counts,
                }
            )

        await self._batches.update(record.owner, record.id, finished)
        log.info("batch finished", extra={"batch_id": record.id, "lines": counts.total})

    async def _read(self, batch_id: str) -> tuple[list[BatchResult], list[BatchResult]]:
        """Every stored result of the batch, by outcome, in line order."""
        ok: dict[int, BatchResult] = {}
        failed: dict[int, BatchResult] = {}
        ok_subject = contract.batch_results_subject(batch_id, ok=True)
        seq = 1
        while True:
            try:
                msg = await self._js.get_msg(
                    contract.BATCH_RESULTS_STREAM,
                    seq,
                    subject=contract.batch_results_filter(batch_id),
                    next=True,
                )
            except NotFoundError:
                break
            result = contract.decode_batch_result(msg.data or b"")
            (ok if msg.subject == ok_subject else failed)[result.line_no] = result
            assert msg.seq is not None
            seq = msg.seq + 1
        return [ok[n] for n in sorted(ok)], [failed[n] for n in sorted(failed)]

    async def _write(
        self, record: BatchRecord, kind: str, results: list[BatchResult]
    ) -> str | None:
        if not results:
            return None
        data = b"".join(orjson.dumps(result.line) + b"\n" for result in results)
        principal = record.principal
        file = FileRecord(
            id=derived_file_id(record.id, kind),
            owner=record.owner,
            bytes=len(data),
            created_at=int(time.time()),
            filename=f"{record.id}_{kind}.jsonl",
            purpose=BATCH_OUTPUT,
            key_id=principal.key_id,
            user_id=principal.user_id,
            team_id=principal.team_id,
        )
        await self._files.put(file, data)
        return file.id


def grown_counts(current: BatchRecord, counts: RequestCounts) -> BatchRecord | None:
    known = current.request_counts
    if counts.completed <= known.completed and counts.failed <= known.failed:
        return None
    grown = RequestCounts(
        total=known.total,
        completed=max(known.completed, counts.completed),
        failed=max(known.failed, counts.failed),
    )
    return current.model_copy(update={"request_counts": grown})


def claim_finalising(current: BatchRecord, take_over: bool) -> BatchRecord | None:
    """`finalizing`, from a running batch, or from a claim whose router has gone quiet (or
    died: `take_over`, its line came back)."""
    now = int(time.time())
    if current.status is BatchStatus.FINALIZING:
        if not take_over and now - (current.finalizing_at or 0) < STALE_FINALIZING_S:
            return None
    elif current.status not in (
        BatchStatus.VALIDATING,
        BatchStatus.IN_PROGRESS,
        BatchStatus.CANCELLING,
    ):
        return None
    return current.model_copy(update={"status": BatchStatus.FINALIZING, "finalizing_at": now})
