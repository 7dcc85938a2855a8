"""Assemble and run the metering process until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal

from tollway_common import nats_client
from tollway_metering.analytics import AnalyticsResponder
from tollway_metering.consumer import UsageConsumer
from tollway_metering.settings import MeteringSettings
from tollway_metering.warehouse import Warehouse

log = logging.getLogger(__name__)


async def run(settings: MeteringSettings) -> None:
    # Installed first, so a signal during start-up still ends in a clean stop.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    warehouse = await Warehouse.open(settings.clickhouse_dsn, settings.database)
    applied = await warehouse.migrate(settings.retention_days)
    log.info("warehouse ready", extra={"migrations_applied": applied})
    nc = await nats_client.connect(settings.nats, "tollway-metering")
    js = nc.jetstream()
    await nats_client.ensure_usage_stream(js, settings.nats.replicas)
    responder = AnalyticsResponder(nc, warehouse)
    await responder.start()
    consumer = asyncio.create_task(UsageConsumer(js, warehouse, settings).run(stop))
    log.info("metering ready")
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({consumer, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stop.set()
    stopping.cancel()
    log.info("metering stopping")
    try:
        # The consumer finishes the batch in hand; it raises here if it failed on its own.
        await consumer
    finally:
        await responder.stop()
        await nc.drain()
        await warehouse.close()
        log.info("metering stopped")
