"""Connecting to NATS with settings that survive restarts, and creating what JetStream needs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BucketNotFoundError
from nats.js.kv import KeyValue

from tollway_common import contract
from tollway_common.bus_permissions import Service, inbox_prefix
from tollway_common.metrics import NATS_CONNECTED
from tollway_common.settings import NatsSettings

log = logging.getLogger(__name__)

USAGE_RETENTION_S = 7 * 24 * 3600
# The usage stream is a work queue: an event leaves it when metering acks it (after storing it),
# so the stream holds metering's backlog only (ADR 0023). The bounds are for a metering that is
# down: a week, or this size (the oldest go first), so a long outage cannot fill the JetStream
# store, whose refusal would stop every write, the control plane's included.
USAGE_MAX_BYTES = 4 * 1024**3
# Long enough for the routers' and edges' publish retries (2 minutes) to land once; a repeat
# after it is dropped by metering, which writes nothing for an event it has stored. nats-server
# holds every id of the window in memory: at 200 events/s a 10-minute window kept ~40 MiB more
# and its RSS climbing for 10 minutes (docs/soak.md).
USAGE_DEDUP_WINDOW_S = 180
DEDUP_WINDOW_S = 600
# nats-server's answer to an update that changes a stream's retention to or from work queue.
_RETENTION_UNCHANGEABLE = 10052
# Bodies hold prompts: kept in the stream only as long as metering may take to store them.
BODIES_RETENTION_S = 24 * 3600
BODIES_MAX_BYTES = 1024**3
# A batch's lines and results outlive its 24 h completion window by a margin; a result
# published again after a router died before acking its line is dropped within this window.
BATCH_RETENTION_S = 3 * 24 * 3600
BATCH_RESULTS_DEDUP_WINDOW_S = 2 * 3600


async def connect(
    settings: NatsSettings,
    name: str,
    on_disconnect: Callable[[], None] | None = None,
    *,
    service: Service,
) -> Client:
    """Connect as `service` with reconnects that never give up and a ping often enough to
    notice a dead path.

    nats-py's defaults give up after about two minutes of reconnecting and notice a dead TCP path
    only after minutes (see docs/adr/0002-nats-hot-path.md). Inboxes carry the service's own
    prefix, the only one its NATS user may subscribe to (docs/security-nats.md).
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
        servers(settings),
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
        inbox_prefix=inbox_prefix(service),
        **credentials(settings),
    )
    NATS_CONNECTED.set(1)
    return nc


def servers(settings: NatsSettings) -> list[str]:
    """The seed URLs of `settings.url` (one, or several separated by commas: the nodes of a
    cluster; the client learns the others from the cluster and fails over between them)."""
    return [url.strip() for url in settings.url.split(",") if url.strip()]


def credentials(settings: NatsSettings) -> dict[str, Any]:
    """nats-py connect options for the identity and TLS the settings name."""
    options: dict[str, Any] = {}
    if settings.user:
        options["user"] = settings.user
        options["password"] = settings.password.get_secret_value()
        if settings.password_file is not None:
            options["password"] = settings.password_file.read_text().strip()
    if settings.creds_file is not None:
        options["user_credentials"] = str(settings.creds_file)
    if settings.nkey_seed_file is not None:
        options["nkeys_seed"] = str(settings.nkey_seed_file)
    tls = tls_context(settings)
    if tls is not None:
        options["tls"] = tls
    return options


def tls_context(settings: NatsSettings) -> ssl.SSLContext | None:
    """A TLS context when the URL asks for TLS or a CA is given; None for plain TCP."""
    if settings.tls_ca_file is None and not any(u.startswith("tls://") for u in servers(settings)):
        return None
    cafile = str(settings.tls_ca_file) if settings.tls_ca_file is not None else None
    context = ssl.create_default_context(cafile=cafile)
    if settings.tls_cert_file is not None:
        key = str(settings.tls_key_file) if settings.tls_key_file is not None else None
        context.load_cert_chain(str(settings.tls_cert_file), key)
    return context


async def drain(nc: Client, timeout_s: float = 5.0) -> None:
    """Drain the connection (what is pending flushed, subscriptions finished) within
    `timeout_s`; one already gone, or too slow, is closed instead. Every service ends with this,
    so it stops in bounded time with or without its NATS (a drain on a connection that is
    reconnecting raises)."""
    try:
        await asyncio.wait_for(nc.drain(), timeout_s)
    except Exception:
        with contextlib.suppress(Exception):
            await nc.close()


async def ensure_usage_stream(js: JetStreamContext, replicas: int) -> None:
    """Create or update the usage stream: a work queue metering empties, holding an unstored
    event 7 days or up to 4 GiB; idempotent, so every service may call it at start."""
    await _ensure_stream(
        js,
        contract.USAGE_STREAM,
        contract.USAGE_SUBJECT,
        replicas,
        max_bytes=USAGE_MAX_BYTES,
        retention=RetentionPolicy.WORK_QUEUE,
        dedup_window_s=USAGE_DEDUP_WINDOW_S,
    )


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


async def ensure_batch_streams(js: JetStreamContext, replicas: int) -> None:
    """Create or update the batch streams: the lines as a work queue (each line is removed once
    a router acks it; `Nats-Msg-Id` `<batch>:<line>` makes a retried creation add nothing), and
    the results, one per line, deduplicated the same way."""
    await _ensure_stream(
        js,
        contract.BATCH_LINES_STREAM,
        contract.BATCH_LINES_WILDCARD,
        replicas,
        max_age_s=BATCH_RETENTION_S,
        retention=RetentionPolicy.WORK_QUEUE,
    )
    await _ensure_stream(
        js,
        contract.BATCH_RESULTS_STREAM,
        contract.BATCH_RESULTS_WILDCARD,
        replicas,
        max_age_s=BATCH_RETENTION_S,
        dedup_window_s=BATCH_RESULTS_DEDUP_WINDOW_S,
    )


async def _ensure_stream(
    js: JetStreamContext,
    name: str,
    subject: str,
    replicas: int,
    max_age_s: int = USAGE_RETENTION_S,
    max_bytes: int | None = None,
    retention: RetentionPolicy = RetentionPolicy.LIMITS,
    dedup_window_s: int = DEDUP_WINDOW_S,
) -> None:
    config = StreamConfig(
        name=name,
        subjects=[subject],
        retention=retention,
        storage=StorageType.FILE,
        num_replicas=replicas,
        max_age=max_age_s,
        max_bytes=max_bytes,
        discard=DiscardPolicy.OLD,
        duplicate_window=dedup_window_s,
    )
    # Create first: a stream that exists with the same configuration is left as it is, so a
    # service allowed only to create (docs/security-nats.md) starts; its owner updates it.
    try:
        await js.add_stream(config)
    except nats.js.errors.BadRequestError:
        await _update_or_keep(js, config)


async def _update_or_keep(js: JetStreamContext, config: StreamConfig) -> None:
    """The stream exists with another configuration: an older release's, or one another
    service is creating at this moment. Its owner updates it; a service allowed only to create
    it (nats-server answers its update with silence: a timeout) goes on with the stream as it
    is, rather than failing to start.

    nats-server cannot change a stream's retention in place: the owner then applies the rest
    and keeps the old retention until an operator recreates the stream (docs/metering.md).

    Raises:
        nats.errors.Error: the update failed and the stream is not there either.
    """
    try:
        await js.update_stream(config)
    except nats.errors.Error as exc:
        existing = (await js.stream_info(str(config.name))).config
        if getattr(exc, "err_code", None) == _RETENTION_UNCHANGEABLE:
            await js.update_stream(replace(config, retention=existing.retention))
            log.warning(
                "stream %s keeps its %s retention (%s wanted; nats-server cannot change it in "
                "place): recreate it once drained, as docs/metering.md describes",
                config.name,
                existing.retention,
                config.retention,
            )
            return
        log.warning(
            "stream %s kept with its configuration (%s); its owner updates it",
            config.name,
            type(exc).__name__,
        )


async def ensure_kv(
    js: JetStreamContext, bucket: str, replicas: int, ttl_s: float | None = None
) -> KeyValue:
    try:
        return await js.key_value(bucket)
    except BucketNotFoundError:
        return await js.create_key_value(bucket=bucket, history=10, replicas=replicas, ttl=ttl_s)
