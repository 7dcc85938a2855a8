"""Connecting to NATS with settings that survive restarts, and creating what JetStream needs."""

from __future__ import annotations

import logging
from collections.abc import Callable

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BucketNotFoundError
from nats.js.kv import KeyValue

from tollway_common import contract
from tollway_common.metrics import NATS_CONNECTED
from tollway_common.settings import NatsSettings

log = logging.getLogger(__name__)

USAGE_RETENTION_S = 7 * 24 * 3600
USAGE_DEDUP_WINDOW_S = 600
# Bodies hold prompts: kept in the stream only as long as metering may take to store them.
BODIES_RETENTION_S = 24 * 3600
BODIES_MAX_BYTES = 1024**3


async def connect(
    settings: NatsSettings, name: str, on_disconnect: Callable[[], None] | None = None
) -> Client:
    """Connect with reconnects that never give up and a ping often enough to notice a dead path.

    nats-py's defaults give up after about two minutes of reconnecting and notice a dead TCP path
    only after minutes (see docs/adr/0002-nats-hot-path.md).
    """

    async def disconnected() -> None:
        NATS_CONNECTED.set(0)
        log.warning("nats disconnected", extra={"service": name})
        if on_disconnect is not None:
            on_disconnect()

    async def on_reconnect() -> None:
        NATS_CONNECTED.set(1)
        log.info("nats reconnected", extra={"service": name})

    async def on_closed() -> None:
        NATS_CONNECTED.set(0)

    async def on_error(exc: Exception) -> None:
        log.warning("nats error: %s", exc, extra={"service": name})

    nc = await nats.connect(
        settings.url,
        name=name,
        connect_timeout=settings.connect_timeout_s,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        ping_interval=10,
        max_outstanding_pings=3,
        disconnected_cb=disconnected,
        reconnected_cb=on_reconnect,
        error_cb=on_error,
        closed_cb=on_closed,
    )
    NATS_CONNECTED.set(1)
    return nc


async def ensure_usage_stream(js: JetStreamContext, replicas: int) -> None:
    """Create or update the usage stream; idempotent, so every service may call it at start."""
    await _ensure_stream(js, contract.USAGE_STREAM, contract.USAGE_SUBJECT, replicas)


async def ensure_audit_stream(js: JetStreamContext, replicas: int) -> None:
    """Create or update the audit stream (control-plane changes, deduplicated by event id)."""
    await _ensure_stream(js, contract.AUDIT_STREAM, contract.AUDIT_SUBJECT, replicas)


async def ensure_alerts_stream(js: JetStreamContext, replicas: int) -> None:
    """Create or update the alerts stream (budget thresholds, unpriced models)."""
    await _ensure_stream(js, contract.ALERTS_STREAM, contract.ALERTS_SUBJECT, replicas)


async def ensure_bodies_stream(js: JetStreamContext, replicas: int) -> None:
    """Create or update the bodies stream: a day at most and bounded in size, the oldest
    dropped first, so logging bodies can never fill the JetStream store."""
    await _ensure_stream(
        js,
        contract.BODIES_STREAM,
        contract.BODIES_SUBJECT,
        replicas,
        max_age_s=BODIES_RETENTION_S,
        max_bytes=BODIES_MAX_BYTES,
    )


async def _ensure_stream(
    js: JetStreamContext,
    name: str,
    subject: str,
    replicas: int,
    max_age_s: int = USAGE_RETENTION_S,
    max_bytes: int | None = None,
) -> None:
    config = StreamConfig(
        name=name,
        subjects=[subject],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=replicas,
        max_age=max_age_s,
        max_bytes=max_bytes,
        discard=DiscardPolicy.OLD,
        duplicate_window=USAGE_DEDUP_WINDOW_S,
    )
    try:
        await js.update_stream(config)
    except nats.js.errors.NotFoundError:
        await js.add_stream(config)


async def ensure_kv(
    js: JetStreamContext, bucket: str, replicas: int, ttl_s: float | None = None
) -> KeyValue:
    try:
        return await js.key_value(bucket)
    except BucketNotFoundError:
        return await js.create_key_value(bucket=bucket, history=10, replicas=replicas, ttl=ttl_s)
