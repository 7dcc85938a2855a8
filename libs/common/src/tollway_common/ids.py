"""Time-ordered request ids (UUIDv7 layout) and the JetStream message ids derived from them."""

from __future__ import annotations

import os
import re
import time
import uuid

# What a request id a reader names may look like (the request log's filter and detail): the
# edge's are UUIDs; batch lines and older ids keep to this alphabet too.
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}\Z")


def new_request_id() -> str:
    """A UUIDv7 string: 48 bits of Unix milliseconds, then random bits, so ids sort by time."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (rand >> 68 & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def usage_msg_id(request_id: str, source: str = "router") -> str:
    """The `Nats-Msg-Id` of a request's usage event: JetStream drops a second publish of it."""
    return f"usage:{request_id}:{source}"


def body_msg_id(request_id: str) -> str:
    """The `Nats-Msg-Id` of a request's body event."""
    return f"bodies:{request_id}"
