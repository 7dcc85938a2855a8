"""A Tollway stack for tests: real nats-server and redis-server, services as subprocesses."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tests.support.nats import start_test_nats
from tollway_admin.config_sync import apply_config_once
from tollway_cli.processes import ManagedProcess, spawn_module, wait_for_log, wait_until_ready
from tollway_cli.servers import NatsServer, RedisServer, free_port, start_redis
from tollway_common.bus_permissions import Service
from tollway_common.config_file import TollwayConfig

T = TypeVar("T")

STOP_TIMEOUT_S = 10.0

FAST_FAILURE_ENV = {
    # Short heartbeats and idle timeout so fault tests end in seconds, not tens of seconds.
    "TOLLWAY_ROUTER_HEARTBEAT_INTERVAL_S": "0.3",
    "TOLLWAY_EDGE_IDLE_TIMEOUT_S": "2",
}
# Fake upstreams answer under real model names (gpt-4o-mini): tests that assert costs or
# unpriced usage set their prices themselves, so the built-in catalog is off unless a test
# turns it on (`start_edge(TOLLWAY_EDGE_LIMITS__PRICE_CATALOG="true")`, and metering's).
NO_CATALOG_ENV = {
    "TOLLWAY_EDGE_LIMITS__PRICE_CATALOG": "false",
    "TOLLWAY_METERING_PRICE_CATALOG": "false",
}
# No test router may ask a real instance metadata service for a managed identity token.
NO_IMDS_ENV = {"TOLLWAY_ROUTER_IMDS_URL": "http://127.0.0.1:9/metadata/identity/oauth2/token"}


def open_stack(workdir: Path, cleanup: ExitStack) -> Stack:
    """A stack with its own nats-server and redis-server, no service started yet; `cleanup`
    stops the services, then Redis, then NATS."""
    nats = start_test_nats(workdir / "nats")
    cleanup.callback(nats.stop)
    redis = start_redis(workdir / "redis")
    cleanup.callback(redis.stop)
    stack = Stack(nats=nats, redis=redis, workdir=workdir)
    cleanup.callback(stack.stop)
    return stack


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a private loop in another thread."""
    result: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


@dataclass
class Stack:
    nats: NatsServer
    redis: RedisServer
    workdir: Path
    processes: list[ManagedProcess] = field(default_factory=list)
    edge_port: int = 0
    edge_metrics_port: int = 0

    @property
    def edge_url(self) -> str:
        return f"http://127.0.0.1:{self.edge_port}"

    @property
    def edge_metrics_url(self) -> str:
        """Where Prometheus scrapes the edge started last (its own port, not the API's)."""
        return f"http://127.0.0.1:{self.edge_metrics_port}"

    @property
    def base_url(self) -> str:
        return f"{self.edge_url}/v1"

    def apply(self, config: TollwayConfig) -> None:
        run_async(apply_config_once(self.nats.settings(Service.ADMIN), config))

    def start_router(self, name: str = "router", **env: str) -> ManagedProcess:
        process = spawn_module(
            name,
            "tollway_router",
            {
                **self.nats.env(Service.ROUTER),
                "TOLLWAY_ROUTER_ROUTER_ID": name,
                # Tests keep their secret files in the work folder.
                "TOLLWAY_SECRETS_DIR": str(self.workdir),
                **FAST_FAILURE_ENV,
                **NO_IMDS_ENV,
                **env,
            },
            self.workdir / "logs",
        )
        self.processes.append(process)
        wait_for_log(process, "router ready")
        return process

    def start_edge(self, name: str = "edge", **env: str) -> ManagedProcess:
        """Start an edge; `edge_url` points at the one started last."""
        self.edge_port = free_port()
        self.edge_metrics_port = free_port()
        process = spawn_module(
            name,
            "tollway_edge",
            {
                **self.nats.env(Service.EDGE),
                "TOLLWAY_EDGE_REDIS__URL": self.redis.url,
                "TOLLWAY_EDGE_PORT": str(self.edge_port),
                "TOLLWAY_EDGE_METRICS__PORT": str(self.edge_metrics_port),
                **FAST_FAILURE_ENV,
                **NO_CATALOG_ENV,
                **env,
            },
            self.workdir / "logs",
        )
        self.processes.append(process)
        wait_until_ready(process, f"{self.edge_url}/readyz")
        return process

    def start_admin(self, token: str, **env: str) -> str:
        """Start admin with the bootstrap token `token`; returns its base URL."""
        port = free_port()
        process = spawn_module(
            "admin",
            "tollway_admin",
            {
                **self.nats.env(Service.ADMIN),
                "TOLLWAY_ADMIN_PORT": str(port),
                "TOLLWAY_ADMIN_TOKEN": token,
                "TOLLWAY_SECRETS_DIR": str(self.workdir),
                **env,
            },
            self.workdir / "logs",
        )
        self.processes.append(process)
        url = f"http://127.0.0.1:{port}"
        wait_until_ready(process, f"{url}/readyz")
        return url

    def logs(self) -> str:
        return "".join(process.log() for process in self.processes)

    def start_metering(self, **env: str) -> ManagedProcess:
        process = spawn_module(
            "metering",
            "tollway_metering",
            {
                **self.nats.env(Service.METERING),
                "TOLLWAY_METERING_CLICKHOUSE_DSN": f"chdb://{self.workdir / 'clickhouse'}",
                **NO_CATALOG_ENV,
                **env,
            },
            self.workdir / "logs",
        )
        self.processes.append(process)
        # Ready means it answers analytics questions: a page asking earlier is told metering
        # is not running.
        wait_for_log(process, "metering ready")
        return process

    def stop(self) -> None:
        """SIGTERM every service at once, then wait for each (10 s at most in all) and SIGKILL
        what is left: one by one, the services' drains added up to 2-4 s per stack."""
        running = [process for process in self.processes if process.popen.poll() is None]
        for process in running:
            process.popen.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for process in running:
            process.stop(timeout=max(deadline - time.monotonic(), 0.01))
