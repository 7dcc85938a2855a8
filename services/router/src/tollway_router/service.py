"""Assemble and run a router process until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket

from tollway_common import contract, nats_client
from tollway_common.control import decode_model_alias
from tollway_common.kv_mirror import KvMirror
from tollway_common.metrics import announce_build
from tollway_common.monitor_server import MonitorServer
from tollway_common.presence import Announcer
from tollway_common.secret_refs import SecretResolver
from tollway_router import metrics
from tollway_router.handler import Handler
from tollway_router.selection import WeightedRoundRobin
from tollway_router.settings import RouterSettings
from tollway_router.upstream import Upstream
from tollway_router.worker import Worker

log = logging.getLogger(__name__)


async def run(settings: RouterSettings) -> None:
    router_id = settings.router_id or f"{socket.gethostname()}-{os.getpid()}"
    # First, so probes get an answer (503 on /readyz) while the router connects.
    monitor = MonitorServer("router", settings.monitor)
    await monitor.start()
    announce_build("router")
    nc = await nats_client.connect(settings.nats, f"tollway-router-{router_id}")
    js = nc.jetstream()
    await nats_client.ensure_usage_stream(js, settings.nats.replicas)
    models_kv = await nats_client.ensure_kv(js, contract.KV_MODELS, settings.nats.replicas)
    models = KvMirror(models_kv, decode_model_alias)
    await models.start()
    metrics.watch_catalog(lambda: models.items)
    upstream = Upstream(settings.connect_timeout_s, settings.max_connections)
    handler = Handler(
        nc=nc,
        js=js,
        models=models,
        upstream=upstream,
        secrets=SecretResolver(),
        selector=WeightedRoundRobin(),
        router_id=router_id,
        heartbeat_interval_s=settings.heartbeat_interval_s,
    )
    if any(d.provider == "anthropic" for m in models.items.values() for d in m.deployments):
        await asyncio.to_thread(upstream.anthropic)
    worker = Worker(nc, handler, settings.max_inflight)
    metrics.IN_FLIGHT.set_function(lambda: worker.inflight)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await worker.start()
    announcer = Announcer(nc, "router", lambda: nc.is_connected)
    announcer.start()
    monitor.add_check("nats", lambda: nc.is_connected)
    monitor.add_check("catalog", models.ready.is_set)
    monitor.started()
    log.info("router ready", extra={"router_id": router_id})
    await stop.wait()
    monitor.stopping()
    await announcer.stop()
    log.info("router stopping", extra={"inflight": worker.inflight})
    await worker.shutdown(settings.drain_grace_s)
    await models.stop()
    await upstream.close()
    await monitor.stop()
    log.info("router stopped")
