"""Files and batches as the edge and the routers share them: the records kept in NATS KV, whose
they are, and OpenAI's shapes for them and for a batch's output lines (pure; the I/O is in
`file_store.py` and in each service).

A file or batch belongs to the key that made it (or, for an OIDC caller, to the user): its
`owner` token prefixes its KV key, so listing reads only the owner's records, and anyone
else asking for its id is told it does not exist.
"""

from __future__ import annotations

import hashlib
import secrets
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tollway_common.contract import Endpoint, Principal

# The endpoints a batch may name, by the path its lines' `url` must equal.
BATCH_ENDPOINTS: dict[str, Endpoint] = {
    "/v1/chat/completions": Endpoint.CHAT_COMPLETIONS,
    "/v1/completions": Endpoint.COMPLETIONS,
    "/v1/embeddings": Endpoint.EMBEDDINGS,
    "/v1/moderations": Endpoint.MODERATIONS,
    "/v1/responses": Endpoint.RESPONSES,
}
COMPLETION_WINDOWS = ("24h",)
COMPLETION_WINDOW_S = 24 * 3600
# What a client may upload a file for; `batch_output` files are written by the gateway.
UPLOAD_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
BATCH_OUTPUT = "batch_output"
CANCELLED_CODE = "batch_cancelled"


def owner_of(principal: Principal) -> str:
    """The owner token of what `principal` creates: its key, or its user when it has no key."""
    holder = principal.key_id or f"user:{principal.user_id}"
    who = f"{principal.auth}:{holder}"
    return hashlib.sha256(who.encode()).hexdigest()[:32]


def record_key(owner: str, record_id: str) -> str:
    return f"{owner}.{record_id}"


def new_file_id() -> str:
    return f"file-{secrets.token_hex(12)}"


def new_batch_id() -> str:
    return f"batch_{secrets.token_hex(12)}"


def derived_file_id(batch_id: str, kind: str) -> str:
    """The output or error file of a batch: the same id every time it is written, so a router
    that takes over an interrupted finalisation overwrites rather than adds."""
    digest = hashlib.sha256(f"{batch_id}:{kind}".encode()).hexdigest()[:24]
    return f"file-{digest}"


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore")


class FileRecord(_Record):
    """A stored file; `openai()` is what clients see (OpenAI's `FileObject`)."""

    id: str
    owner: str
    bytes: int = Field(ge=0)
    created_at: int
    filename: str
    purpose: str
    status: str = "processed"
    expires_at: int | None = None
    key_id: str = ""
    user_id: str = ""
    team_id: str = ""

    def openai(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "id": self.id,
            "object": "file",
            "bytes": self.bytes,
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": self.status,
        }
        if self.expires_at is not None:
            shown["expires_at"] = self.expires_at
        return shown


class BatchStatus(StrEnum):
    VALIDATING = "validating"
    FAILED = "failed"
    IN_PROGRESS = "in_progress"
    FINALIZING = "finalizing"
    COMPLETED = "completed"
    EXPIRED = "expired"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"


OPEN_STATUSES = frozenset({BatchStatus.VALIDATING, BatchStatus.IN_PROGRESS})
# A finished batch's status after `finalizing`, by the status it was finalised from.
FINAL_STATUS = {
    BatchStatus.IN_PROGRESS: BatchStatus.COMPLETED,
    BatchStatus.CANCELLING: BatchStatus.CANCELLED,
}


class RequestCounts(_Record):
    total: int = 0
    completed: int = 0
    failed: int = 0

    @property
    def done(self) -> int:
        return self.completed + self.failed


class BatchRecord(_Record):
    """A batch as kept in KV `tollway_batches`; `openai()` is OpenAI's `Batch` object."""

    id: str
    owner: str
    principal: Principal
    endpoint: str
    input_file_id: str
    completion_window: str = "24h"
    status: BatchStatus = BatchStatus.VALIDATING
    created_at: int
    expires_at: int | None = None
    in_progress_at: int | None = None
    finalizing_at: int | None = None
    completed_at: int | None = None
    cancelling_at: int | None = None
    cancelled_at: int | None = None
    failed_at: int | None = None
    expired_at: int | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    request_counts: RequestCounts = RequestCounts()
    metadata: dict[str, str] | None = None
    model: str | None = None
    # Why a `failed` batch failed: OpenAI's `{"object": "list", "data": [{code, message}]}`.
    errors: dict[str, Any] | None = None

    def openai(self) -> dict[str, Any]:
        # OpenAI leaves out what has not happened (its schema allows no nulls there).
        shown = self.model_dump(mode="json", exclude={"owner", "principal"}, exclude_none=True)
        return {"object": "batch", **shown}


def output_line(
    batch_id: str,
    line_no: int,
    custom_id: str,
    request_id: str,
    status_code: int,
    body: Any,
) -> dict[str, Any]:
    """One line of the output (2xx) or error file: OpenAI's batch request output."""
    return {
        "id": _line_id(batch_id, line_no),
        "custom_id": custom_id,
        "response": {"status_code": status_code, "request_id": request_id, "body": body},
        "error": None,
    }


def skipped_line(
    batch_id: str, line_no: int, custom_id: str, code: str, message: str
) -> dict[str, Any]:
    """The error file's line for a request never sent (the batch was cancelled first)."""
    return {
        "id": _line_id(batch_id, line_no),
        "custom_id": custom_id,
        "response": None,
        "error": {"code": code, "message": message},
    }


def _line_id(batch_id: str, line_no: int) -> str:
    return f"batch_req_{hashlib.sha256(f'{batch_id}:{line_no}'.encode()).hexdigest()[:24]}"


def line_request_id(batch_id: str, line_no: int) -> str:
    """The request id of a batch line: the same on every delivery, so a line served twice
    (a router died before acking it) is metered once."""
    return f"{batch_id}-{line_no}"
