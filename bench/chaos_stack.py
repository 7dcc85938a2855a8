"""The whole gateway on loopback for `make chaos` and `make soak`: nats-server, redis-server,
a paced fake upstream, edge, router, metering and admin, each on a fixed port and each
restartable by name after a SIGKILL, the way a supervisor would start it again.

Every process is started here and stopped here by its own pid; every log is in `workdir`.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import nats
import psutil

from tollway_admin.config_sync import apply_config_once
from tollway_cli.bus_credentials import BusCredentials
from tollway_cli.processes import ManagedProcess, spawn, wait_for_log, wait_until_ready
from tollway_cli.servers import NatsServer, free_port, start_nats, start_redis
from tollway_common import contract
from tollway_common.bus_permissions import ExtraUser, Service
from tollway_common.config_file import BootstrapKey, TollwayConfig
from tollway_common.control import Budget, Deployment, Limits, ModelAlias, Price

KEY = "sk-tollway-chaos-0123456789abcdefghijklm"
CHAT_MODEL = "chaos-chat"
EMBED_MODEL = "chaos-embed"
SERVICES = ("edge", "router", "metering", "admin")
SERVERS = ("nats-server", "redis-server")
READY_TIMEOUT_S = 60.0
_RECONNECTED = "nats reconnected"
STOP_TIMEOUT_S = 20.0
# The stack's own NATS user, unrestricted: it reads the usage consumer's state.
_OBSERVER = ExtraUser("chaos-observer", secrets.token_urlsafe(16))
_SQL_SCRIPT = """
import json, sys
from chdb import session
path, sql = sys.argv[1], sys.argv[2]
result = session.Session(path).query(sql, "JSONCompact")
print(json.dumps(json.loads(result.bytes())["data"]))
"""


@dataclass
class ChaosStack:
    workdir: Path
    # Each stream's 20 chunks are this far apart, so streams are in flight when a kill lands.
    stream_delay_ms: float = 20.0
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    starts: dict[str, int] = field(default_factory=dict)
    credentials: BusCredentials = field(default_factory=BusCredentials.generate)
    nats_port: int = -1
    redis_port: int = 0
    edge_port: int = 0
    admin_port: int = 0
    upstream_port: int = 0

    @property
    def nats(self) -> NatsServer:
        server = self.processes["nats-server"]
        assert isinstance(server, NatsServer)
        return server

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.redis_port = free_port()
        self.edge_port = free_port()
        self.admin_port = free_port()
        self.upstream_port = free_port()
        self.restart("nats-server")
        self.nats_port = self.nats.port
        self.restart("redis-server")
        upstream = ["-m", "bench.upstream", str(self.upstream_port), f"{self.stream_delay_ms:g}"]
        self.processes["upstream"] = spawn(
            "upstream",
            [sys.executable, *upstream],
            self.workdir / "upstream.log",
            die_with_parent=_on_main_thread(),
        )
        asyncio.run(apply_config_once(self.nats.settings(Service.ADMIN), self._config()))
        for name in SERVICES:
            self.restart(name)

    def restart(self, name: str) -> ManagedProcess:
        """Start `name` (again) where it was, and wait until it is ready: nats-server when the
        services are back on it, since until they have reconnected (each waits up to
        `reconnect_time_wait` between tries) the gateway is still down for a client."""
        count = self.starts.get(name, 0)
        self.starts[name] = count + 1
        reconnects = self._reconnects() if name == "nats-server" else {}
        process = self._starters()[name](count)
        self.processes[name] = process
        if name == "nats-server":
            self._wait_reconnected(reconnects)
        return process

    def _reconnects(self) -> dict[str, int]:
        """How often each running service that logs at INFO has logged a NATS reconnect."""
        return {
            name: process.log().count(_RECONNECTED)
            for name, process in self.processes.items()
            if name in SERVICES and name != "edge"
        }

    def _wait_reconnected(self, before: dict[str, int]) -> None:
        """The edge says it on /readyz (it logs at WARNING only), the others in their logs."""
        if "edge" in self.processes:
            wait_until_ready(self.processes["edge"], self.edge_ready_url, timeout=READY_TIMEOUT_S)
        deadline = time.monotonic() + READY_TIMEOUT_S
        for name, count in before.items():
            process = self.processes[name]
            while process.log().count(_RECONNECTED) <= count:
                if time.monotonic() > deadline or process.exit_code() is not None:
                    raise process.failure("never reconnected to the restarted nats-server")
                time.sleep(0.02)

    def kill(self, name: str) -> None:
        """SIGKILL, as a crash or the OOM killer would."""
        self.processes[name].kill()

    def _starters(self) -> dict[str, Callable[[int], ManagedProcess]]:
        return {
            "nats-server": self._start_nats,
            "redis-server": lambda _: start_redis(
                self.workdir / "redis", port=self.redis_port, die_with_parent=_on_main_thread()
            ),
            "edge": self._start_edge,
            "router": self._start_router,
            "metering": self._start_metering,
            "admin": self._start_admin,
        }

    def _start_nats(self, _: int) -> ManagedProcess:
        # The same port and store: JetStream's streams, consumers and KV survive the restart.
        return start_nats(
            self.workdir / "nats",
            self.credentials,
            self.nats_port,
            extra_users=(_OBSERVER,),
            die_with_parent=_on_main_thread(),
        )

    def _service(self, name: str, count: int, env: dict[str, str]) -> ManagedProcess:
        # A log per start, so readiness is read from this start's lines only.
        log = self.workdir / f"{name}.{count}.log"
        command = [sys.executable, "-m", f"tollway_{name}"]
        return spawn(name, command, log, env, die_with_parent=_on_main_thread())

    def _start_edge(self, count: int) -> ManagedProcess:
        process = self._service(
            "edge",
            count,
            {
                **self.nats.env(Service.EDGE),
                "TOLLWAY_EDGE_REDIS__URL": f"redis://127.0.0.1:{self.redis_port}/0",
                "TOLLWAY_EDGE_PORT": str(self.edge_port),
                "TOLLWAY_EDGE_METRICS__PORT": "0",
                "TOLLWAY_EDGE_LOG__LEVEL": "WARNING",
            },
        )
        wait_until_ready(process, self.edge_ready_url, timeout=READY_TIMEOUT_S)
        return process

    def _start_router(self, count: int) -> ManagedProcess:
        process = self._service(
            "router",
            count,
            {
                **self.nats.env(Service.ROUTER),
                "TOLLWAY_SECRETS_DIR": str(self.workdir),
                "TOLLWAY_ROUTER_IMDS_URL": "http://127.0.0.1:9/metadata/identity/oauth2/token",
            },
        )
        wait_for_log(process, "router ready", timeout=READY_TIMEOUT_S)
        return process

    def _start_metering(self, count: int) -> ManagedProcess:
        process = self._service(
            "metering",
            count,
            {
                **self.nats.env(Service.METERING),
                "TOLLWAY_METERING_CLICKHOUSE_DSN": f"chdb://{self.chdb_folder}",
            },
        )
        wait_for_log(process, "metering ready", timeout=READY_TIMEOUT_S)
        return process

    def _start_admin(self, count: int) -> ManagedProcess:
        process = self._service(
            "admin",
            count,
            {
                **self.nats.env(Service.ADMIN),
                "TOLLWAY_ADMIN_PORT": str(self.admin_port),
                "TOLLWAY_ADMIN_TOKEN": secrets.token_urlsafe(24),
                "TOLLWAY_SECRETS_DIR": str(self.workdir),
            },
        )
        wait_until_ready(process, self.admin_ready_url, timeout=READY_TIMEOUT_S)
        return process

    @property
    def edge_ready_url(self) -> str:
        return f"http://127.0.0.1:{self.edge_port}/readyz"

    @property
    def admin_ready_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}/readyz"

    @property
    def chdb_folder(self) -> Path:
        return self.workdir / "clickhouse"

    def _config(self) -> TollwayConfig:
        secret = self.workdir / "chaos-key"
        secret.write_text(KEY)
        return TollwayConfig(
            models=[
                ModelAlias(
                    name=CHAT_MODEL,
                    deployments=[
                        Deployment(
                            name="chaos-upstream",
                            provider="openai",
                            model="bench-1",
                            api_base=f"http://127.0.0.1:{self.upstream_port}/v1",
                        )
                    ],
                ),
                ModelAlias(
                    name=EMBED_MODEL,
                    deployments=[
                        Deployment(name="chaos-fake", provider="fake", model="tollway-demo-1")
                    ],
                ),
            ],
            prices=[
                Price(model=name, input_per_mtok=Decimal(1), output_per_mtok=Decimal(2))
                for name in (CHAT_MODEL, EMBED_MODEL)
            ],
            budgets=[Budget(budget_id="chaos", amount=Decimal(1_000_000))],
            # Limits far above the load, so that every request takes Redis's reserve-and-settle
            # path (a Redis kill is felt) without being refused.
            keys=[
                BootstrapKey(
                    name="chaos",
                    secret=f"file:{secret}",
                    limits=Limits(rpm=10_000_000, tpm=10_000_000_000, max_parallel=100_000),
                    budget_ids=["chaos"],
                )
            ],
        )

    async def usage_settled(self, timeout_s: float = 120.0) -> bool:
        """Wait until metering has stored and acked every usage event published so far."""
        deadline = time.monotonic() + timeout_s
        nc = await nats.connect(self.nats.url_as(_OBSERVER.name))
        try:
            js = nc.jetstream()
            while time.monotonic() < deadline:
                info = await js.consumer_info(contract.USAGE_STREAM, contract.USAGE_DURABLE)
                if info.num_pending == 0 and info.num_ack_pending == 0:
                    return True
                await asyncio.sleep(0.5)
        finally:
            await nc.close()
        return False

    def service_processes(self) -> dict[str, list[psutil.Process]]:
        """Each process's tree (uvicorn workers included), by name, as it runs now."""
        found: dict[str, list[psutil.Process]] = {}
        for name, process in self.processes.items():
            if name == "upstream" or process.exit_code() is not None:
                continue
            root = psutil.Process(process.pid)
            found[name] = [root, *root.children(recursive=True)]
        return found

    def stop(self) -> None:
        """Services first, together (metering flushes), then the servers; each by its own pid."""
        services = [self.processes[name] for name in SERVICES if name in self.processes]
        with ThreadPoolExecutor(max_workers=len(services) or 1) as pool:
            list(pool.map(lambda process: process.stop(STOP_TIMEOUT_S), services))
        for name in ("upstream", "redis-server", "nats-server"):
            process = self.processes.get(name)
            if process is not None:
                process.stop(STOP_TIMEOUT_S)


def _on_main_thread() -> bool:
    """Whether a child may be tied to this process's life (PR_SET_PDEATHSIG): the signal
    follows the spawning thread, and a restart from a worker thread would die with that thread,
    so only what the main thread starts dies with the run when it is killed hard."""
    return threading.current_thread() is threading.main_thread()


def query_warehouse(folder: Path, sql: str) -> list[list[Any]]:
    """Run `sql` on a chDB folder no process holds, from a child process (a process opens one
    chDB engine only, and the runner must not keep one)."""
    result = subprocess.run(
        [sys.executable, "-c", _SQL_SCRIPT, str(folder), sql],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"chDB query failed: {result.stderr[-2000:]}")
    rows: list[list[Any]] = json.loads(result.stdout)
    return rows
