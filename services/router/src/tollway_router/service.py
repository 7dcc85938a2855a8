"""Assemble and run a router process until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket

from nats.aio.client import Client
from nats.js import JetStreamContext

from tollway_common import contract, nats_client
from tollway_common.batch_store import BatchStore
from tollway_common.bus_permissions import Service
from tollway_common.control import ModelAlias, decode_model_alias
from tollway_common.file_store import FileStore
from tollway_common.kv_mirror import KvMirror
from tollway_common.metrics import announce_build
from tollway_common.monitor_server import MonitorServer
from tollway_common.presence import Announcer
from tollway_common.secret_policy import SecretPolicy
from tollway_common.secret_refs import SecretResolver
from tollway_router import metrics
from tollway_router.batch.drain import BatchDrain
from tollway_router.batch.results import Results
from tollway_router.body_log.publisher import BodyLog
from tollway_router.credentials.refresher import keep_fresh as refresher_loop
from tollway_router.credentials.resolve import Credentials
from tollway_router.credentials.token_cache import TokenCache
from tollway_router.credentials.token_seal import Sealer
from tollway_router.credentials.token_store import SharedTokens
from tollway_router.handler import Handler
from tollway_router.receipts import Receipts
from tollway_router.replies import Heartbeats
from tollway_router.responses.answers import StoreAnswers
from tollway_router.responses.store import ResponseStore, open_bucket
from tollway_router.routing.health import HealthBoard
from tollway_router.settings import RouterSettings
from tollway_router.upstream.client import Upstream
from tollway_router.usage import publish_usage
from tollway_router.worker import Worker

log = logging.getLogger(__name__)


async def run(settings: RouterSettings) -> None:
    router_id = settings.router_id or f"{socket.gethostname()}-{os.getpid()}"
    # First, so probes get an answer (503 on /readyz) while the router connects.
    monitor = MonitorServer("router", settings.monitor)
    await monitor.start()
    announce_build("router")
    nc = await nats_client.connect(
        settings.nats, f"tollway-router-{router_id}", service=Service.ROUTER
    )
    js = nc.jetstream()
    await nats_client.ensure_usage_stream(js, settings.nats.replicas)
    models_kv = await nats_client.ensure_kv(js, contract.KV_MODELS, settings.nats.replicas)
    models = KvMirror(models_kv, decode_model_alias)
    await models.start()
    health_kv = await nats_client.ensure_kv(js, contract.KV_HEALTH, settings.nats.replicas)
    health = HealthBoard(health_kv, router_id, settings.invalid_probe_after_s)
    await health.start()
    responses_kv = await open_bucket(js, settings.responses.ttl_s, settings.nats.replicas)
    responses = ResponseStore(responses_kv, settings.responses.share, nc.max_payload)
    body_log = await BodyLog.open(settings.nats, settings.body_log, f"tollway-router-{router_id}")
    upstream = Upstream(
        settings.connect_timeout_s, settings.max_connections, settings.foundry_base_url
    )
    secrets = SecretResolver(policy=SecretPolicy())
    shared = await _shared_tokens(js, settings, router_id)
    tokens = TokenCache(secrets, settings.managed_identity, settings.token_timeout_s, shared=shared)
    credentials = Credentials(secrets, tokens)
    metrics.watch_catalog(lambda: models.items, lambda: health.mirror.items.values())
    if shared is not None:
        metrics.watch_tokens(lambda: models.items, lambda: shared.health.items)
    heartbeats = Heartbeats(settings.heartbeat_interval_s)
    heartbeats.start()
    receipts = Receipts(nc, lambda event: publish_usage(js, event))
    await receipts.start()
    handler = Handler(
        nc=nc,
        js=js,
        models=models,
        upstream=upstream,
        health=health,
        credentials=credentials,
        router_id=router_id,
        heartbeats=heartbeats,
        body_log=body_log,
        responses=responses,
        receipts=receipts,
    )
    deployments = [d for m in models.items.values() for d in m.deployments]
    await asyncio.to_thread(upstream.warm_up, deployments)
    worker = Worker(nc, handler, settings.max_inflight)
    drain = await _batch_drain(nc, js, handler, settings) if settings.batch.enabled else None
    metrics.IN_FLIGHT.set_function(lambda: worker.inflight)
    metrics.USAGE_UNACKNOWLEDGED.set_function(lambda: handler.usage.pending)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await worker.start()
    store_answers = StoreAnswers(nc, responses)
    await store_answers.start()
    announcer = Announcer(nc, "router", lambda: nc.is_connected)
    announcer.start()
    sweeper = asyncio.create_task(
        _sweep_idle(health, models, settings.idle_sweep_interval_s), name="idle-sweep"
    )
    refresher = asyncio.create_task(
        refresher_loop(
            lambda: models.items.values(), tokens, health, settings.oauth.refresh_interval_s
        ),
        name="oauth-refresh",
    )
    monitor.add_check("nats", lambda: nc.is_connected)
    monitor.add_check("catalog", models.ready.is_set)
    monitor.started()
    log.info("router ready", extra={"router_id": router_id})
    await stop.wait()
    sweeper.cancel()
    refresher.cancel()
    monitor.stopping()
    await announcer.stop()
    log.info("router stopping", extra={"inflight": worker.inflight})
    await store_answers.stop()
    if drain is not None:
        # First, while NATS is still up: a line finished in the grace period is acked.
        await drain.stop(settings.drain_grace_s)
    # Refreshes still running write their rotated refresh tokens before NATS goes away.
    await worker.shutdown(settings.drain_grace_s, before_drain=tokens.finish_refreshes)
    await heartbeats.stop()
    await receipts.stop()
    await body_log.close()
    await models.stop()
    await health.stop()
    await upstream.close()
    await credentials.close()
    await monitor.stop()
    log.info("router stopped")


async def _shared_tokens(
    js: JetStreamContext, settings: RouterSettings, router_id: str
) -> SharedTokens | None:
    """The KV-backed OAuth accounts, when an encryption key is configured."""
    if settings.oauth.encryption_key is None:
        return None
    # The operator's own process setting, like the NATS password: no allow-list applies.
    sealer = Sealer.from_secret(SecretResolver().resolve(settings.oauth.encryption_key))
    replicas = settings.nats.replicas
    shared = SharedTokens(
        await nats_client.ensure_kv(js, contract.KV_OAUTH_TOKENS, replicas),
        await nats_client.ensure_kv(js, contract.KV_OAUTH_HEALTH, replicas),
        sealer,
        router_id,
        lease_s=settings.token_timeout_s + 5.0,
    )
    await shared.start()
    return shared


async def _batch_drain(
    nc: Client, js: JetStreamContext, handler: Handler, settings: RouterSettings
) -> BatchDrain:
    replicas = settings.nats.replicas
    await nats_client.ensure_batch_streams(js, replicas)
    batches = BatchStore(js, await nats_client.ensure_kv(js, contract.KV_BATCHES, replicas))
    files = await FileStore.open(js, replicas)
    drain = BatchDrain(nc, js, handler, Results(js, batches, files), batches, settings.batch)
    await drain.start()
    return drain


async def _sweep_idle(health: HealthBoard, models: KvMirror[ModelAlias], every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        try:
            await health.sweep_idle(models.items.values())
        except Exception:
            log.exception("idle sweep failed")
