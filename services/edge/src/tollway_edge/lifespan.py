"""Start and stop what the edge needs: NATS, Redis, the reply mux and the control-plane view."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator

from fastapi import FastAPI
from nats.js.kv import KeyValue

from tollway_common import contract, metrics, nats_client
from tollway_common.batch_store import BatchStore
from tollway_common.bus_permissions import Service
from tollway_common.control import (
    Budget,
    OrgRecord,
    TeamRecord,
    decode_key_record,
    decode_model_alias,
    decode_price,
)
from tollway_common.file_store import FileStore
from tollway_common.kv_mirror import KvMirror
from tollway_common.oidc import OidcVerifier
from tollway_common.presence import Announcer
from tollway_edge import metrics as edge_metrics
from tollway_edge import redis_client, redis_pools
from tollway_edge.auth import TokenAuth
from tollway_edge.catalog import Catalog
from tollway_edge.dispatch import ReplyMux
from tollway_edge.fallback_usage import Estimates
from tollway_edge.limits.alerts import AlertPublisher
from tollway_edge.limits.gate import LimitGate
from tollway_edge.runtime import Runtime
from tollway_edge.session_answers import SessionAnswers, SessionDesk
from tollway_edge.settings import EdgeSettings

log = logging.getLogger(__name__)


def new_edge_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}".replace(".", "-")


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: EdgeSettings = app.state.settings
    edge_id = new_edge_id()
    mux = ReplyMux(edge_id, settings.idle_timeout_s)
    # Replies published while the edge is cut off are lost (core NATS): end open requests.
    nc = await nats_client.connect(
        settings.nats,
        f"tollway-edge-{edge_id}",
        on_disconnect=mux.connection_lost,
        service=Service.EDGE,
    )
    js = nc.jetstream()
    models_kv = await nats_client.ensure_kv(js, contract.KV_MODELS, settings.nats.replicas)
    keys_kv = await nats_client.ensure_kv(js, contract.KV_KEYS, settings.nats.replicas)

    async def bucket(name: str) -> KeyValue:
        return await nats_client.ensure_kv(js, name, settings.nats.replicas)

    catalog = Catalog(
        models=KvMirror(models_kv, decode_model_alias),
        keys=KvMirror(keys_kv, decode_key_record),
        teams=KvMirror(await bucket(contract.KV_TEAMS), TeamRecord.model_validate_json),
        orgs=KvMirror(await bucket(contract.KV_ORGS), OrgRecord.model_validate_json),
        budgets=KvMirror(await bucket(contract.KV_BUDGETS), Budget.model_validate_json),
        prices=KvMirror(await bucket(contract.KV_PRICES), decode_price),
    )
    for mirror in catalog.mirrors():
        await mirror.start()
    oidc = (
        TokenAuth(OidcVerifier(settings.oidc), settings.oidc_default_team)
        if settings.oidc.enabled
        else None
    )
    await mux.start(nc)
    redis = redis_client.connect(settings.redis)
    await redis_client.warm_up(redis)
    await nats_client.ensure_alerts_stream(js, settings.nats.replicas)
    await nats_client.ensure_batch_streams(js, settings.nats.replicas)
    files = await FileStore.open(js, settings.nats.replicas)
    batches = BatchStore(js, await bucket(contract.KV_BATCHES))
    gate = LimitGate(catalog, redis, AlertPublisher(js, redis), settings.limits)
    salt = settings.configured_ip_salt()
    if salt is None:
        log.warning(
            "no TOLLWAY_EDGE_CLIENT_IP_SALT: client IPs are hashed with a salt of this process "
            "only; set one (the same on every edge)"
        )
        salt = secrets.token_bytes(16)
    estimates = Estimates(js)
    app.state.runtime = Runtime(
        settings=settings,
        edge_id=edge_id,
        nc=nc,
        js=js,
        redis=redis,
        mux=mux,
        catalog=catalog,
        oidc=oidc,
        gate=gate,
        estimates=estimates,
        client_ip_salt=salt,
        files=files,
        batches=batches,
    )
    session_answers = SessionAnswers(nc, SessionDesk(catalog, redis))
    await session_answers.start()
    announcer = Announcer(nc, "edge", lambda: nc.is_connected)
    announcer.start()
    metrics.announce_build("edge")
    redis_watch = asyncio.create_task(edge_metrics.watch_redis(redis, settings.redis.timeout_s))
    redis_reaper = asyncio.create_task(redis_pools.reap_idle(redis))
    try:
        yield
    finally:
        await edge_metrics.stop_watching(redis_reaper)
        await edge_metrics.stop_watching(redis_watch)
        await announcer.stop()
        await session_answers.stop()
        await mux.stop()
        await gate.drain()
        await estimates.drain()
        for mirror in catalog.mirrors():
            await mirror.stop()
        if oidc is not None:
            await oidc.verifier.close()
        await redis.aclose()
        await nats_client.drain(nc)
