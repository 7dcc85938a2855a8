"""Admin loads the config file into NATS KV at start and again when the file changes, storing
key hashes and secret references only."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from tollway_cli.processes import ManagedProcess, spawn_module, wait_until_ready
from tollway_cli.servers import NatsServer, free_port
from tollway_common import contract
from tollway_common.bus_permissions import Service
from tollway_common.control import decode_key_record, decode_model_alias, hash_key

CLIENT_KEY = "sk-tollway-admin-test-abcdefghijklmnop"
UPSTREAM_KEY = "sk-upstream-abcdefghijklmnopqrstuvwx"
CONFIG = """
models:
  - name: demo
    deployments: [{name: demo-fake, provider: fake, model: d1}]
  - name: gpt
    deployments:
      - {name: oai, provider: openai, model: gpt-4o-mini, api_base: "http://127.0.0.1:9/v1",
         api_key: "env:ADMIN_TEST_UPSTREAM_KEY"}
keys:
  - {name: app, secret: "env:ADMIN_TEST_CLIENT_KEY", models: [demo]}
"""


@pytest.fixture
def admin(tmp_path: Path, nats_server: NatsServer) -> Iterator[tuple[ManagedProcess, Path]]:
    config = tmp_path / "tollway.yaml"
    config.write_text(CONFIG)
    port = free_port()
    process = spawn_module(
        "admin",
        "tollway_admin",
        {
            **nats_server.env(Service.ADMIN),
            "TOLLWAY_ADMIN_PORT": str(port),
            "TOLLWAY_ADMIN_CONFIG_FILE": str(config),
            "TOLLWAY_ADMIN_CONFIG_POLL_S": "0.1",
            "ADMIN_TEST_CLIENT_KEY": CLIENT_KEY,
            "ADMIN_TEST_UPSTREAM_KEY": UPSTREAM_KEY,
        },
        tmp_path / "logs",
    )
    try:
        wait_until_ready(process, f"http://127.0.0.1:{port}/readyz")
        yield process, config
    finally:
        process.stop()


async def _bucket(nats_url: str, bucket: str) -> dict[str, bytes]:
    nc = await nats.connect(nats_url)
    try:
        kv = await nc.jetstream().key_value(bucket)
        try:
            keys = await kv.keys()
        except nats.js.errors.NoKeysError:
            return {}
        values: dict[str, bytes] = {}
        for key in keys:
            try:
                values[key] = (await kv.get(key)).value or b""
            except nats.js.errors.KeyNotFoundError:  # deleted keys may still be listed
                continue
        return values
    finally:
        await nc.close()


async def test_config_lands_in_kv_with_hashes_and_references_only(
    admin: tuple[ManagedProcess, Path], nats_server: NatsServer
) -> None:
    process, _ = admin
    models = await _bucket(nats_server.url_as("test"), contract.KV_MODELS)
    keys = await _bucket(nats_server.url_as("test"), contract.KV_KEYS)
    assert sorted(decode_model_alias(v).name for v in models.values()) == ["demo", "gpt"]
    [record] = [decode_key_record(v) for v in keys.values()]
    assert record.key_hash == hash_key(CLIENT_KEY)
    assert record.policy.allow_models == ["demo"]
    everything = b"".join([*models.values(), *keys.values()]) + process.log().encode()
    assert CLIENT_KEY.encode() not in everything
    assert UPSTREAM_KEY.encode() not in everything
    assert b"env:ADMIN_TEST_UPSTREAM_KEY" in everything


async def test_editing_the_file_updates_kv_and_a_broken_edit_changes_nothing(
    admin: tuple[ManagedProcess, Path], nats_server: NatsServer
) -> None:
    _, config = admin
    config.write_text(CONFIG.replace("  - name: gpt", "  - name: gpt-renamed"))
    names: list[str] = []
    for _ in range(100):
        models = await _bucket(nats_server.url_as("test"), contract.KV_MODELS)
        names = sorted(decode_model_alias(v).name for v in models.values())
        if names == ["demo", "gpt-renamed"]:
            break
        await asyncio.sleep(0.05)
    assert names == ["demo", "gpt-renamed"]
    config.write_text("models: [this is: not valid")
    process = admin[0]
    for _ in range(100):
        if "config file not applied" in process.log():
            break
        await asyncio.sleep(0.05)
    assert "config file not applied" in process.log()
    models = await _bucket(nats_server.url_as("test"), contract.KV_MODELS)
    assert sorted(decode_model_alias(v).name for v in models.values()) == ["demo", "gpt-renamed"]
