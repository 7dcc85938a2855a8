"""The Redis settings of each mode and the client each builds (no server needed: redis-py
connects lazily)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError
from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster

from tollway_common.settings import RedisSettings, parse_addresses
from tollway_edge import redis_client
from tollway_edge.settings import EdgeSettings


def test_addresses_are_host_port_pairs() -> None:
    assert parse_addresses(" 10.0.0.1:26379, redis-b:26380 ,", "sentinels") == [
        ("10.0.0.1", 26379),
        ("redis-b", 26380),
    ]
    assert parse_addresses("[::1]:7000", "cluster_nodes") == [("::1", 7000)]


@pytest.mark.parametrize("text", ["", " , ", "redis", "redis:", ":7000", "redis:70000", "a:b"])
def test_a_bad_address_list_is_refused_with_the_setting_named(text: str) -> None:
    with pytest.raises(ValueError, match="cluster_nodes"):
        parse_addresses(text, "cluster_nodes")


def test_each_mode_needs_its_addresses() -> None:
    with pytest.raises(ValidationError, match="sentinels"):
        RedisSettings(mode="sentinel")
    with pytest.raises(ValidationError, match="cluster_nodes"):
        RedisSettings(mode="cluster", sentinels="127.0.0.1:26379")
    with pytest.raises(ValidationError, match="master_name"):
        RedisSettings(mode="sentinel", sentinels="127.0.0.1:26379", master_name="")
    with pytest.raises(ValidationError):
        RedisSettings(mode="replicated")
    assert RedisSettings().mode == "standalone"


def test_the_mode_and_addresses_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOLLWAY_EDGE_REDIS__MODE", "sentinel")
    monkeypatch.setenv("TOLLWAY_EDGE_REDIS__SENTINELS", "s1:26379,s2:26379,s3:26379")
    monkeypatch.setenv("TOLLWAY_EDGE_REDIS__MASTER_NAME", "limits")
    settings = EdgeSettings().redis
    assert (settings.mode, settings.master_name) == ("sentinel", "limits")
    assert len(parse_addresses(settings.sentinels, "sentinels")) == 3


async def test_cluster_mode_builds_a_cluster_client_from_every_seed() -> None:
    client = redis_client.connect(
        RedisSettings(
            mode="cluster", cluster_nodes="127.0.0.1:7000,127.0.0.1:7001", password=SecretStr("pw")
        )
    )
    try:
        assert isinstance(client, RedisCluster)
        seeds = {(node.host, node.port) for node in client.nodes_manager.startup_nodes.values()}
        assert seeds == {("127.0.0.1", 7000), ("127.0.0.1", 7001)}
        node_options = client.get_connection_kwargs()
        assert node_options["password"] == "pw"
        assert node_options["socket_timeout"] == 0.5
        assert client.retry is not None
        assert client.retry.get_retries() == 1, "a down node fails fast"
    finally:
        await client.aclose()


async def test_sentinel_mode_builds_a_client_for_the_named_primary(tmp_path: Path) -> None:
    password_file = tmp_path / "redis-password"
    password_file.write_text("from-file\n")
    client = redis_client.connect(
        RedisSettings(
            mode="sentinel",
            sentinels="127.0.0.1:26379,127.0.0.1:26380",
            master_name="limits",
            password_file=password_file,
            sentinel_password=SecretStr("sentinel-pw"),
        )
    )
    try:
        assert isinstance(client, Redis)
        pool = client.connection_pool
        assert pool.service_name == "limits"  # type: ignore[attr-defined]
        assert pool.connection_kwargs["password"] == "from-file"
        sentinels = pool.sentinel_manager.sentinels  # type: ignore[attr-defined]
        assert [s.connection_pool.connection_kwargs["port"] for s in sentinels] == [26379, 26380]
        assert {s.connection_pool.connection_kwargs["password"] for s in sentinels} == {
            "sentinel-pw"
        }
    finally:
        await client.aclose()


async def test_standalone_mode_keeps_the_url_and_tls_files(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    url, options = redis_client.connection_options(
        RedisSettings(url="redis://cache:6379/2", tls_ca_file=ca, username="edge")
    )
    assert url == "rediss://cache:6379/2"
    assert options == {"username": "edge", "ssl_cert_reqs": "required", "ssl_ca_certs": str(ca)}
    client = redis_client.connect(RedisSettings(url="redis://cache:6379/2"))
    try:
        assert isinstance(client, Redis)
        assert client.connection_pool.connection_kwargs["db"] == 2
    finally:
        await client.aclose()


async def test_standalone_mode_waits_for_a_busy_pool_within_the_timeout() -> None:
    client = redis_client.connect(RedisSettings(timeout_s=0.25, max_connections=7))
    try:
        assert isinstance(client, Redis)
        pool = client.connection_pool
        assert isinstance(pool, BlockingConnectionPool)
        assert (pool.max_connections, pool.timeout) == (7, 0.25)
    finally:
        await client.aclose()
