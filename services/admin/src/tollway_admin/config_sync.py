"""Load the declarative config file into NATS KV, and again whenever the file changes.

The file is the source of truth for what it declares: models and bootstrap keys it no longer
lists are removed from KV. Key secrets are resolved here only to be hashed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from nats.js.kv import KeyValue

from tollway_common import contract, nats_client
from tollway_common.config_file import ConfigError, TollwayConfig, load_config
from tollway_common.control import (
    KeyRecord,
    Policy,
    encode_record,
    hash_key,
    key_prefix,
    kv_key_for_alias,
)
from tollway_common.secret_refs import SecretNotFound, SecretResolver
from tollway_common.settings import NatsSettings

log = logging.getLogger(__name__)


def key_records(config: TollwayConfig, secrets: SecretResolver) -> list[KeyRecord]:
    records: list[KeyRecord] = []
    for key in config.keys:
        try:
            secret = secrets.resolve(key.secret)
        except SecretNotFound as exc:
            log.warning("bootstrap key %r skipped: %s", key.name, exc)
            continue
        records.append(
            KeyRecord(
                key_id=f"key_{hash_key(secret)[:16]}",
                name=key.name,
                key_hash=hash_key(secret),
                prefix=key_prefix(secret),
                policy=Policy(allow_models=key.models),
                user_id=key.user_id,
                team_id=key.team_id,
                org_id=key.org_id,
                created_at=int(time.time()),
            )
        )
    return records


async def apply_config(
    config: TollwayConfig, models_kv: KeyValue, keys_kv: KeyValue, secrets: SecretResolver
) -> None:
    wanted_models = {kv_key_for_alias(model.name): model for model in config.models}
    wanted_keys = {record.key_hash: record for record in key_records(config, secrets)}
    await _sync(models_kv, {k: encode_record(v) for k, v in wanted_models.items()})
    await _sync(keys_kv, {k: encode_record(v) for k, v in wanted_keys.items()})
    log.info("config applied", extra={"models": len(wanted_models), "keys": len(wanted_keys)})


async def _sync(kv: KeyValue, wanted: dict[str, bytes]) -> None:
    try:
        existing = set(await kv.keys())
    except Exception:  # nats-py raises NoKeysError for an empty bucket
        existing = set()
    live = {key: value for key in existing if (value := await _get(kv, key)) is not None}
    for key, value in wanted.items():
        if live.get(key) != value:
            await kv.put(key, value)
    for key in live.keys() - wanted.keys():
        await kv.delete(key)


async def _get(kv: KeyValue, key: str) -> bytes | None:
    try:
        entry = await kv.get(key)
    except Exception:
        return None
    return entry.value


async def watch_config_file(
    path: Path,
    poll_s: float,
    models_kv: KeyValue,
    keys_kv: KeyValue,
    secrets: SecretResolver,
) -> None:
    """Re-apply the file whenever its modification time changes; bad edits are logged, not
    applied, so a typo never empties the catalog."""
    last_mtime = (await asyncio.to_thread(path.stat)).st_mtime_ns
    while True:
        await asyncio.sleep(poll_s)
        try:
            mtime = (await asyncio.to_thread(path.stat)).st_mtime_ns
        except OSError:
            continue
        if mtime == last_mtime:
            continue
        last_mtime = mtime
        try:
            config = await asyncio.to_thread(load_config, path)
        except (ConfigError, OSError) as exc:
            log.error("config file not applied: %s", exc)
            continue
        await apply_config(config, models_kv, keys_kv, secrets)


async def apply_config_once(settings: NatsSettings, config: TollwayConfig) -> None:
    """Connect, make sure the buckets exist, apply `config`, disconnect (tests, the bench, and
    later `tollway apply`)."""
    nc = await nats_client.connect(settings, "tollway-config")
    try:
        js = nc.jetstream()
        await nats_client.ensure_usage_stream(js, settings.replicas)
        models_kv = await nats_client.ensure_kv(js, contract.KV_MODELS, settings.replicas)
        keys_kv = await nats_client.ensure_kv(js, contract.KV_KEYS, settings.replicas)
        await apply_config(config, models_kv, keys_kv, SecretResolver(ttl_s=0))
    finally:
        await nc.drain()
