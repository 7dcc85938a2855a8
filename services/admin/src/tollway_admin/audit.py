"""Publish one audit event per control-plane change to the audit stream metering stores."""

from __future__ import annotations

import logging
import time
from typing import Any

from nats.js import JetStreamContext

from tollway_admin.secret_check import redact_headers
from tollway_common import contract
from tollway_common.contract import AuditActor, AuditEvent

log = logging.getLogger(__name__)

# Hashes of keys are not secrets, but nobody reading an audit trail needs them.
_REDACTED_FIELDS = frozenset({"key_hash"})
REDACTED = "[redacted]"


def redact(record: dict[str, Any] | None) -> dict[str, Any] | None:
    if record is None:
        return None
    hidden = {
        name: REDACTED if name in _REDACTED_FIELDS else value for name, value in record.items()
    }
    return redact_headers(hidden)


class AuditLog:
    def __init__(self, js: JetStreamContext) -> None:
        self._js = js

    async def record(
        self,
        *,
        event_id: str,
        actor: AuditActor,
        action: str,
        resource_type: str,
        resource_id: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
        """`event_id` is derived from the KV revision written, so a retried publish is
        deduplicated by the stream rather than recorded twice."""
        event = AuditEvent(
            event_id=event_id,
            at_ms=int(time.time() * 1000),
            actor=actor,
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            before=redact(before),
            after=redact(after),
        )
        await self._js.publish(
            contract.AUDIT_SUBJECT,
            contract.encode(event),
            headers={contract.HEADER_MSG_ID: event_id},
        )
