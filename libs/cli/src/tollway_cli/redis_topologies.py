"""Redis Cluster and Redis Sentinel setups on loopback, built from `start_redis` servers: what
the tests use to prove the edge's limits on the two topologies operators scale out to.

A cluster gets its slots and its peers by hand (CLUSTER ADDSLOTSRANGE and CLUSTER MEET), so no
`redis-cli --cluster create` is needed; a sentinel is redis-server started with `--sentinel`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError

from tollway_cli.processes import ManagedProcess, ProcessError, spawn
from tollway_cli.servers import RedisServer, find_binary, free_port, start_redis, wait_for_port

SLOTS = 16384
_READY_TIMEOUT_S = 30.0
_POLL_S = 0.1


def addresses(ports: list[int]) -> str:
    """`RedisSettings.sentinels` / `cluster_nodes` for servers on these loopback ports."""
    return ",".join(f"127.0.0.1:{port}" for port in ports)


@dataclass
class RedisClusterServers:
    """The primaries of a Redis Cluster, each serving an equal range of slots."""

    nodes: list[RedisServer]

    @property
    def seeds(self) -> str:
        return addresses([node.port for node in self.nodes])

    def node_for_slot(self, slot: int) -> RedisServer:
        return self.nodes[slot * len(self.nodes) // SLOTS]

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def start_redis_cluster(data_dir: Path, size: int = 3) -> RedisClusterServers:
    """`size` primaries without replicas, every slot served, every node knowing the others.

    Raises:
        ProcessError: a node did not start, or the cluster did not report `cluster_state:ok`
            on every node within 30 s.
    """
    nodes: list[RedisServer] = []
    cluster = RedisClusterServers(nodes)
    try:
        bus_ports: list[int] = []
        for index in range(size):
            # Its own bus port: the default (port + 10000) does not exist for a kernel-chosen
            # port above 55535, and the node refuses to start.
            bus_ports.append(free_port())
            nodes.append(
                start_redis(
                    data_dir / f"node{index}",
                    extra_args=(
                        *("--cluster-enabled", "yes"),
                        *("--cluster-config-file", "nodes.conf"),
                        *("--cluster-node-timeout", "2000"),
                        *("--cluster-port", str(bus_ports[-1])),
                    ),
                )
            )
        for index, node in enumerate(nodes):
            first, last = index * SLOTS // size, (index + 1) * SLOTS // size - 1
            with _client(node.port) as client:
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)
                for peer, bus_port in zip(nodes[:index], bus_ports, strict=False):
                    client.execute_command("CLUSTER", "MEET", "127.0.0.1", peer.port, bus_port)
        for node in nodes:
            _wait_until(
                lambda node=node: _cluster_ready(node.port, size),  # type: ignore[misc]
                f"the cluster node on port {node.port} did not report cluster_state:ok",
            )
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _cluster_ready(port: int, size: int) -> bool:
    with _client(port) as client:
        info = client.execute_command("CLUSTER", "INFO")
    text = info.decode() if isinstance(info, bytes) else str(info)
    return "cluster_state:ok" in text and f"cluster_known_nodes:{size}" in text


@dataclass
class Sentinel(ManagedProcess):
    port: int = 0


@dataclass
class RedisSentinelServers:
    """A primary, its replica and the sentinels that watch them under `master_name`."""

    primary: RedisServer
    replica: RedisServer
    sentinels: list[Sentinel] = field(default_factory=list)
    master_name: str = "tollway"

    @property
    def sentinel_addresses(self) -> str:
        return addresses([sentinel.port for sentinel in self.sentinels])

    def primary_port(self) -> int:
        """The port the sentinels name as the primary now."""
        with _client(self.sentinels[0].port) as client:
            host_port = client.execute_command(
                "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.master_name
            )
        return int(host_port[1])

    def stop(self) -> None:
        for process in (*self.sentinels, self.replica, self.primary):
            process.stop()


def start_redis_sentinel(
    data_dir: Path, sentinels: int = 3, master_name: str = "tollway"
) -> RedisSentinelServers:
    """A primary and one replica, watched by `sentinels` sentinels (quorum: a majority) that
    call the primary down after 1 s without answers and fail over to the replica.

    Returns once the replica is in sync and every sentinel knows the replica and the other
    sentinels, so a failover can start at once.

    Raises:
        ProcessError: something did not start or get ready within 30 s.
    """
    primary = start_redis(data_dir / "primary")
    setup = RedisSentinelServers(primary, primary, [], master_name)
    try:
        setup.replica = start_redis(
            data_dir / "replica", extra_args=("--replicaof", "127.0.0.1", str(primary.port))
        )
        _wait_until(
            lambda: _replica_in_sync(setup.replica.port),
            "the replica did not sync with the primary",
        )
        quorum = sentinels // 2 + 1
        for index in range(sentinels):
            setup.sentinels.append(
                _start_sentinel(data_dir / f"sentinel{index}", primary.port, master_name, quorum)
            )
        for sentinel in setup.sentinels:
            _wait_until(
                lambda port=sentinel.port: _sentinel_ready(  # type: ignore[misc]
                    port, master_name, sentinels - 1
                ),
                f"the sentinel on port {sentinel.port} did not see its replica and peers",
            )
    except BaseException:
        setup.stop()
        raise
    return setup


def _start_sentinel(data_dir: Path, primary_port: int, master_name: str, quorum: int) -> Sentinel:
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = data_dir / "sentinel.conf"
    # Sentinel rewrites its own config file as it learns the replica and its peers.
    config.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {data_dir}\n"
        f"sentinel monitor {master_name} 127.0.0.1 {primary_port} {quorum}\n"
        f"sentinel down-after-milliseconds {master_name} 1000\n"
        f"sentinel failover-timeout {master_name} 5000\n"
        f"sentinel parallel-syncs {master_name} 1\n"
    )
    log_path = data_dir / "sentinel.log"
    command = [str(find_binary("redis-server")), str(config), "--sentinel"]
    process = spawn("redis-sentinel", command, log_path)
    if not wait_for_port(port, process):
        process.kill()
        raise ProcessError(f"redis-sentinel did not start: {process.log_tail(2000)}")
    return Sentinel(process.name, process.popen, process.log_path, port)


def _replica_in_sync(port: int) -> bool:
    with _client(port) as client:
        info = client.info("replication")
    return bool(info.get("master_link_status") == "up")


def _sentinel_ready(port: int, master_name: str, peers: int) -> bool:
    with _client(port) as client:
        state = client.execute_command("SENTINEL", "MASTER", master_name)
    fields = _pairs(state)
    return (
        int(fields.get("num-slaves", 0)) >= 1 and int(fields.get("num-other-sentinels", 0)) >= peers
    )


def _pairs(reply: object) -> dict[str, str]:
    if isinstance(reply, dict):
        return {_text(k): _text(v) for k, v in reply.items()}
    items = list(reply) if isinstance(reply, list | tuple) else []
    return {_text(k): _text(v) for k, v in zip(items[0::2], items[1::2], strict=False)}


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _client(port: int) -> Redis:
    return Redis(host="127.0.0.1", port=port, socket_timeout=2.0, socket_connect_timeout=2.0)


def _wait_until(ready: Callable[[], bool], failure: str) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except (RedisError, OSError):
            pass
        time.sleep(_POLL_S)
    raise ProcessError(failure)
