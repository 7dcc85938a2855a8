"""/v1/batches: create, read, list and cancel the caller's batches (OpenAI's Batch API), served
on any deployment: the edge checks every line of the input file as it would a live request,
records the batch in KV and queues its lines on the `TOLLWAY_BATCH_LINES` work queue, which
routers drain within their batch limits (docs/batches.md).
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import JSONResponse, Response

from tollway_common import contract
from tollway_common.batch_store import BatchStore
from tollway_common.batches import (
    BATCH_ENDPOINTS,
    COMPLETION_WINDOW_S,
    COMPLETION_WINDOWS,
    OPEN_STATUSES,
    BatchRecord,
    BatchStatus,
    RequestCounts,
    new_batch_id,
    owner_of,
)
from tollway_common.contract import BatchLine, Endpoint
from tollway_common.errors import (
    BudgetExceeded,
    Conflict,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
)
from tollway_edge.admission import admit
from tollway_edge.auth import Caller
from tollway_edge.batch_input import Admitted, CheckedLine, read_lines
from tollway_edge.body import Head, read_body
from tollway_edge.client_info import client_info
from tollway_edge.request_facts import read_facts, upstream_body
from tollway_edge.routes.files import caller_and_store, list_page, owned_file
from tollway_edge.runtime import Runtime

router = APIRouter(prefix="/v1")

# Lines published at once while a batch is queued: JetStream acks each, so they overlap.
_PUBLISH_WINDOW = 256


class CreateBatch(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    input_file_id: str = Field(min_length=1, max_length=128)
    endpoint: str
    completion_window: str
    metadata: dict[str, Annotated[str, Field(max_length=512)]] | None = Field(
        default=None, max_length=16
    )


@router.post("/batches")
async def create_batch(request: Request) -> Response:
    caller, runtime, store = await caller_and_store(request)
    settings = runtime.settings
    ask = _read_create(
        await read_body(request, settings.max_body_bytes, settings.http.body_timeout_s)
    )
    endpoint = BATCH_ENDPOINTS[ask.endpoint]
    source = await owned_file(store, caller, ask.input_file_id)
    if source.purpose != "batch":
        raise InvalidRequest(
            f"File {source.id} was uploaded for '{source.purpose}'; a batch's input file must "
            "be uploaded with purpose 'batch'.",
            param="input_file_id",
        )
    await _refuse_spent_budget(caller, runtime)
    lines = read_lines(
        await store.read_bytes(source),
        ask.endpoint,
        endpoint,
        lambda body, head: _admitted(caller, runtime, endpoint, body, head),
        max_lines=settings.max_batch_lines,
        max_depth=settings.max_json_depth,
    )
    now = int(time.time())
    principal = caller.principal
    record = BatchRecord(
        id=new_batch_id(),
        owner=owner_of(principal),
        principal=principal,
        endpoint=ask.endpoint,
        input_file_id=source.id,
        completion_window=ask.completion_window,
        created_at=now,
        expires_at=now + COMPLETION_WINDOW_S,
        request_counts=RequestCounts(total=len(lines)),
        metadata=ask.metadata,
        model=lines[0].alias,
    )
    payloads = _payloads(request, runtime, caller, record, endpoint, lines)
    batches = _batches(runtime)
    await batches.create(record)
    try:
        await _queue(runtime, record.id, lines, payloads)
    except Exception:
        # Lines already queued are skipped by the routers once the batch is `failed`.
        await batches.update(record.owner, record.id, _failed)
        raise
    started = record.model_copy(
        update={"status": BatchStatus.IN_PROGRESS, "in_progress_at": int(time.time())}
    )
    # A router may already have counted progress: only move on from `validating`.
    stored = await batches.update(record.owner, record.id, lambda now: _started(now, started))
    return JSONResponse((stored or started).openai())


def _payloads(
    request: Request,
    runtime: Runtime,
    caller: Caller,
    record: BatchRecord,
    endpoint: Endpoint,
    lines: list[CheckedLine],
) -> list[bytes]:
    """Each line as the routers receive it; a line too large for one NATS message is refused
    before anything is stored."""
    client = client_info(request, runtime.client_ip_salt)
    log_bodies = caller.rules.log_bodies
    payloads = [
        contract.encode(
            BatchLine(
                batch_id=record.id,
                owner=record.owner,
                line_no=line.line_no,
                custom_id=line.custom_id,
                endpoint=endpoint,
                principal=caller.principal,
                alias=line.alias,
                body=line.body,
                facts=line.facts,
                log_bodies=log_bodies,
                client=client,
            )
        )
        for line in lines
    ]
    limit = runtime.nc.max_payload
    too_large = [
        line.line_no for line, data in zip(lines, payloads, strict=True) if len(data) > limit
    ]
    if too_large:
        raise PayloadTooLarge(
            f"Lines {', '.join(map(str, too_large[:20]))} are larger than this gateway can queue "
            f"({limit} bytes each).",
            param="input_file_id",
        )
    return payloads


@router.get("/batches")
async def list_batches(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    after: str | None = None,
) -> Response:
    caller, runtime, _ = await caller_and_store(request)
    records = await _batches(runtime).list(owner_of(caller.principal))
    records.sort(key=lambda record: (record.created_at, record.id), reverse=True)
    ids = [record.id for record in records]
    if after is not None and after in ids:
        records = records[ids.index(after) + 1 :]
    page = records[:limit]
    return JSONResponse(list_page([record.openai() for record in page], len(records) > len(page)))


@router.get("/batches/{batch_id}")
async def retrieve_batch(request: Request, batch_id: str) -> Response:
    caller, runtime, _ = await caller_and_store(request)
    return JSONResponse((await _owned_batch(runtime, caller, batch_id)).openai())


@router.post("/batches/{batch_id}/cancel")
async def cancel_batch(request: Request, batch_id: str) -> Response:
    caller, runtime, _ = await caller_and_store(request)
    record = await _owned_batch(runtime, caller, batch_id)

    def cancelling(current: BatchRecord) -> BatchRecord | None:
        if current.status in (BatchStatus.CANCELLING, BatchStatus.CANCELLED):
            return None
        if current.status not in OPEN_STATUSES:
            raise Conflict(
                f"Batch {batch_id} is {current.status.value}; only a batch still running can "
                "be cancelled.",
                code="batch_not_cancellable",
            )
        return current.model_copy(
            update={"status": BatchStatus.CANCELLING, "cancelling_at": int(time.time())}
        )

    updated = await _batches(runtime).update(record.owner, record.id, cancelling)
    return JSONResponse((updated or record).openai())


def _read_create(raw: bytes) -> CreateBatch:
    try:
        ask = CreateBatch.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(part) for part in first["loc"]) or None
        raise InvalidRequest(f"Invalid batch request: {first['msg']}.", param=param) from exc
    if ask.endpoint not in BATCH_ENDPOINTS:
        raise InvalidRequest(
            f"Batches on this gateway may use {', '.join(BATCH_ENDPOINTS)}; not {ask.endpoint}.",
            param="endpoint",
        )
    if ask.completion_window not in COMPLETION_WINDOWS:
        raise InvalidRequest(
            f"completion_window must be one of {', '.join(COMPLETION_WINDOWS)}.",
            param="completion_window",
        )
    if ask.metadata is not None and any(len(name) > 64 for name in ask.metadata):
        raise InvalidRequest("metadata keys may have at most 64 characters.", param="metadata")
    return ask


def _admitted(
    caller: Caller, runtime: Runtime, endpoint: Endpoint, body: dict[str, Any], head: Head
) -> Admitted:
    """A line's body through the checks a live request to `endpoint` gets."""
    asked = read_facts(endpoint, body)
    facts = admit(caller, endpoint, head.model, asked)
    model = runtime.catalog.resolve(head.model)
    return Admitted(model.name, facts, upstream_body(body, endpoint, asked, facts))


async def _refuse_spent_budget(caller: Caller, runtime: Runtime) -> None:
    """Refuse a batch while a budget over the caller is spent, as a live request is refused."""
    for status in await runtime.gate.budget_status(caller):
        spent = status["spent"]
        if spent is not None and Decimal(spent) >= Decimal(status["amount"]):
            raise BudgetExceeded(
                f"The {status['owner']} reached its budget '{status['budget_id']}' of "
                f"{status['amount']} {status['currency']}; no batch can start before it resets."
            )


async def _queue(
    runtime: Runtime, batch_id: str, lines: list[CheckedLine], payloads: list[bytes]
) -> None:
    subject = contract.batch_lines_subject(batch_id)
    for start in range(0, len(lines), _PUBLISH_WINDOW):
        await asyncio.gather(
            *(
                runtime.js.publish(
                    subject,
                    payload,
                    headers={contract.HEADER_MSG_ID: f"{batch_id}:{line.line_no}"},
                )
                for line, payload in zip(
                    lines[start : start + _PUBLISH_WINDOW],
                    payloads[start : start + _PUBLISH_WINDOW],
                    strict=True,
                )
            )
        )


def _failed(current: BatchRecord) -> BatchRecord:
    error = {"code": "queueing_failed", "message": "The batch's requests could not be queued."}
    return current.model_copy(
        update={
            "status": BatchStatus.FAILED,
            "failed_at": int(time.time()),
            "errors": {"object": "list", "data": [error]},
        }
    )


def _started(current: BatchRecord, started: BatchRecord) -> BatchRecord | None:
    if current.status is not BatchStatus.VALIDATING:
        return None
    return current.model_copy(
        update={"status": started.status, "in_progress_at": started.in_progress_at}
    )


def _batches(runtime: Runtime) -> BatchStore:
    assert runtime.batches is not None, "the edge's lifespan opens the batches bucket"
    return runtime.batches


async def _owned_batch(runtime: Runtime, caller: Caller, batch_id: str) -> BatchRecord:
    record = await _batches(runtime).get(owner_of(caller.principal), batch_id)
    if record is None:
        raise NotFound(f"No such Batch object: {batch_id}", param="batch_id")
    return record
