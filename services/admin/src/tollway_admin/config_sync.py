"""Load the config file into the control plane at start and again whenever it changes.

The file is applied like `tollway apply -f`: what it declares is created or updated, and what
an earlier apply created that it no longer lists is removed. Bad edits are logged, not applied,
so a typo never empties the catalog.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from tollway_admin.apply import apply_document
from tollway_admin.store import ControlStore
from tollway_common import nats_client
from tollway_common.bus_permissions import Service
from tollway_common.config_file import ConfigError, TollwayConfig, load_config
from tollway_common.contract import AuditActor
from tollway_common.errors import TollwayError
from tollway_common.secret_refs import SecretResolver
from tollway_common.settings import NatsSettings

log = logging.getLogger(__name__)


def file_actor(path: Path | str) -> AuditActor:
    return AuditActor(kind="config-file", id=str(path))


async def apply_file(store: ControlStore, path: Path, secrets: SecretResolver) -> None:
    try:
        config = await asyncio.to_thread(load_config, path)
        result = await apply_document(store, config, file_actor(path), secrets)
    except (ConfigError, OSError, TollwayError) as exc:
        log.error("config file not applied: %s", exc)
        return
    log.info(
        "config applied",
        extra={
            "records_created": len(result.created),
            "records_updated": len(result.updated),
            "records_deleted": len(result.deleted),
            "records_skipped": result.skipped,
        },
    )


async def watch_config_file(
    path: Path, poll_s: float, store: ControlStore, secrets: SecretResolver
) -> None:
    """Re-apply the file whenever its modification time changes."""
    last_mtime = (await asyncio.to_thread(path.stat)).st_mtime_ns
    while True:
        await asyncio.sleep(poll_s)
        try:
            mtime = (await asyncio.to_thread(path.stat)).st_mtime_ns
        except OSError:
            continue
        if mtime != last_mtime:
            last_mtime = mtime
            try:
                await apply_file(store, path, secrets)
            except Exception:  # NATS trouble must not end the watching
                log.exception("config file not applied")


async def apply_config_once(settings: NatsSettings, config: TollwayConfig) -> None:
    """Connect, apply `config`, disconnect (tests and the bench)."""
    nc = await nats_client.connect(settings, "tollway-config", service=Service.ADMIN)
    try:
        js = nc.jetstream()
        await nats_client.ensure_usage_stream(js, settings.replicas)
        store = await ControlStore.open(js, settings.replicas)
        try:
            await apply_document(store, config, file_actor("<test>"), SecretResolver(ttl_s=0))
        finally:
            await store.close()
    finally:
        await nats_client.drain(nc)
