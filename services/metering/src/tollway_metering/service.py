"""Assemble and run the metering process until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from tollway_common import contract, nats_client
from tollway_common.bus_permissions import Service
from tollway_common.control import decode_price
from tollway_common.kv_mirror import KvMirror
from tollway_common.metrics import announce_build
from tollway_common.monitor_server import MonitorServer
from tollway_common.presence import Announcer
from tollway_common.price_catalog import PriceCatalog
from tollway_metering.analytics import AnalyticsResponder
from tollway_metering.charges import PriceBook
from tollway_metering.consumer import (
    FeedConsumer,
    alerts_feed,
    audit_feed,
    bodies_feed,
    usage_feed,
)
from tollway_metering.health import HealthWatch
from tollway_metering.heap import settle_after_start
from tollway_metering.migrations import Retention
from tollway_metering.settings import MeteringSettings
from tollway_metering.warehouse import Warehouse

log = logging.getLogger(__name__)


async def run(settings: MeteringSettings) -> None:
    # Installed first, so a signal during start-up still ends in a clean stop.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # Next, so probes get an answer (503 on /readyz) while the warehouse and NATS come up.
    monitor = MonitorServer("metering", settings.monitor)
    await monitor.start()
    announce_build("metering")
    warehouse = await Warehouse.open(
        settings.warehouse_dsn(), settings.database, settings.chdb_memory_limit_mib
    )
    applied = await warehouse.migrate(
        Retention(
            usage_days=settings.retention_days,
            audit_days=settings.audit_retention_days,
            body_days=settings.body_retention_days,
        )
    )
    log.info("warehouse ready", extra={"migrations_applied": applied})
    nc = await nats_client.connect(settings.nats, "tollway-metering", service=Service.METERING)
    js = nc.jetstream()
    await nats_client.ensure_usage_stream(js, settings.nats.replicas)
    await nats_client.ensure_audit_stream(js, settings.nats.replicas)
    await nats_client.ensure_bodies_stream(js, settings.nats.replicas)
    await nats_client.ensure_alerts_stream(js, settings.nats.replicas)
    prices = KvMirror(
        await nats_client.ensure_kv(js, contract.KV_PRICES, settings.nats.replicas), decode_price
    )
    await prices.start()
    responder = AnalyticsResponder(nc, warehouse)
    await responder.start()
    feeds = (
        usage_feed(
            warehouse, PriceBook(prices, PriceCatalog() if settings.price_catalog else None)
        ),
        audit_feed(warehouse),
        bodies_feed(warehouse),
        alerts_feed(warehouse),
    )
    consumers = [FeedConsumer(js, feed, settings) for feed in feeds]
    consumer = asyncio.create_task(_consume_all(stop, *consumers))
    announcer = Announcer(nc, "metering", lambda: nc.is_connected)
    announcer.start()
    health = HealthWatch(js, warehouse, feeds)
    await health.poll()
    watching = asyncio.create_task(health.run())
    monitor.add_check("nats", lambda: nc.is_connected)
    monitor.add_check("prices", prices.ready.is_set)
    monitor.add_check("warehouse", lambda: health.warehouse_up)
    monitor.add_check("consumers", lambda: not consumer.done())
    monitor.started()
    settle_after_start()
    log.info("metering ready")
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({consumer, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stop.set()
    stopping.cancel()
    monitor.stopping()
    log.info("metering stopping")
    try:
        # The consumer finishes the batch in hand; it raises here if it failed on its own.
        await consumer
    finally:
        watching.cancel()
        await announcer.stop()
        await responder.stop()
        await prices.stop()
        await nats_client.drain(nc)
        await warehouse.close()
        await monitor.stop()
        log.info("metering stopped")


async def _consume_all(stop: asyncio.Event, *consumers: FeedConsumer[Any]) -> None:
    """Run every feed until `stop`; one failing stops them all (and metering exits)."""
    tasks = [asyncio.create_task(consumer.run(stop)) for consumer in consumers]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()
        await asyncio.gather(*tasks)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
