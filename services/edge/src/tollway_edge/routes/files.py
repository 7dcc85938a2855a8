"""/v1/files: upload, list, read and delete the caller's own files (OpenAI's Files API).

Contents go to the NATS object store in chunks, records to KV (`tollway_common.file_store`).
An upload is parsed as it arrives and refused at `max_file_bytes`; starlette spools a file
part to disk past 1 MB, and the store reads it from there, so no upload is held in memory.
Someone else's file id is answered as if it did not exist.
"""

from __future__ import annotations

import tempfile
import time
import unicodedata
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Message, Receive

from tollway_common.batches import UPLOAD_PURPOSES, FileRecord, new_file_id, owner_of
from tollway_common.errors import InvalidRequest, NotFound, PayloadTooLarge
from tollway_common.file_store import FileStore
from tollway_edge.auth import Caller, authenticate
from tollway_edge.runtime import Runtime

router = APIRouter(prefix="/v1")

MAX_FILENAME_CHARS = 255
_READ_CHUNK = 256 * 1024
# Room for the multipart framing and the `purpose` field around the file itself.
_FORM_MARGIN = 64 * 1024


async def caller_and_store(request: Request) -> tuple[Caller, Runtime, FileStore]:
    runtime: Runtime = request.app.state.runtime
    caller = await authenticate(request.headers, runtime.catalog, runtime.oidc)
    assert runtime.files is not None, "the edge's lifespan opens the file store"
    return caller, runtime, runtime.files


@router.post("/files")
async def create_file(request: Request) -> Response:
    caller, runtime, store = await caller_and_store(request)
    limit = runtime.settings.max_file_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit + _FORM_MARGIN:
        raise _too_large(limit)
    bounded = Request(request.scope, _bounded_receive(request.receive, limit + _FORM_MARGIN))
    async with bounded.form(max_files=1, max_fields=4) as form:
        purpose = form.get("purpose")
        upload = form.get("file")
        if not isinstance(purpose, str) or purpose not in UPLOAD_PURPOSES:
            raise InvalidRequest(
                f"'purpose' must be one of {', '.join(UPLOAD_PURPOSES)}.", param="purpose"
            )
        if not isinstance(upload, UploadFile):
            raise InvalidRequest("Send the file as the multipart field 'file'.", param="file")
        size = upload.size or 0
        if size > limit:
            raise _too_large(limit)
        principal = caller.principal
        record = FileRecord(
            id=new_file_id(),
            owner=owner_of(principal),
            bytes=size,
            created_at=int(time.time()),
            filename=sanitised_filename(upload.filename),
            purpose=purpose,
            key_id=principal.key_id,
            user_id=principal.user_id,
            team_id=principal.team_id,
        )
        await upload.seek(0)
        stored = await store.put(record, upload.file)
    return JSONResponse(stored.openai())


@router.get("/files")
async def list_files(
    request: Request,
    purpose: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 10_000,
    after: str | None = None,
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
) -> Response:
    caller, _, store = await caller_and_store(request)
    records = await store.list(owner_of(caller.principal))
    if purpose is not None:
        records = [record for record in records if record.purpose == purpose]
    if order == "desc":
        records.reverse()
    ids = [record.id for record in records]
    if after is not None and after in ids:
        records = records[ids.index(after) + 1 :]
    page = records[:limit]
    return JSONResponse(list_page([record.openai() for record in page], len(records) > len(page)))


@router.get("/files/{file_id}")
async def retrieve_file(request: Request, file_id: str) -> Response:
    caller, _, store = await caller_and_store(request)
    return JSONResponse((await owned_file(store, caller, file_id)).openai())


@router.get("/files/{file_id}/content")
async def file_content(request: Request, file_id: str) -> Response:
    caller, _, store = await caller_and_store(request)
    record = await owned_file(store, caller, file_id)
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - closed by the stream
    await store.read(record, spool)  # type: ignore[arg-type]
    spool.seek(0)

    async def chunks() -> AsyncIterator[bytes]:
        try:
            while chunk := spool.read(_READ_CHUNK):
                yield chunk
        finally:
            spool.close()

    return StreamingResponse(
        chunks(),
        media_type="application/octet-stream",
        headers={"content-length": str(record.bytes)},
    )


@router.delete("/files/{file_id}")
async def delete_file(request: Request, file_id: str) -> Response:
    caller, _, store = await caller_and_store(request)
    record = await owned_file(store, caller, file_id)
    await store.delete(record)
    return JSONResponse({"id": record.id, "object": "file", "deleted": True})


async def owned_file(store: FileStore, caller: Caller, file_id: str) -> FileRecord:
    record = await store.get(owner_of(caller.principal), file_id)
    if record is None:
        raise NotFound(f"No such File object: {file_id}", param="file_id")
    return record


def sanitised_filename(name: str | None) -> str:
    """The last path component, without control or format characters, at most 255 chars."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    if kept in ("", ".", ".."):
        return "file"
    return kept[:MAX_FILENAME_CHARS]


def _bounded_receive(receive: Receive, limit: int) -> Receive:
    """`receive`, refusing a body past `limit` bytes whatever its Content-Length said."""
    seen = 0

    async def bounded() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _too_large(limit - _FORM_MARGIN)
        return message

    return bounded


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The file is larger than this gateway accepts ({limit} bytes); ask the operator to "
        "raise TOLLWAY_EDGE_MAX_FILE_BYTES."
    )


def list_page(data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    """OpenAI's cursor page; `first_id` and `last_id` only when there is a first and a last."""
    page: dict[str, Any] = {"object": "list", "data": data, "has_more": has_more}
    if data:
        page["first_id"] = data[0]["id"]
        page["last_id"] = data[-1]["id"]
    return page
