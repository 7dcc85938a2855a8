"""Start what a benchmark measures: nats-server, redis-server, the fake upstreams, the NATS
floor's responder and Tollway's services as separate processes, on free loopback ports."""

from __future__ import annotations

import asyncio
import secrets
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx
import psutil

from tollway_admin.config_sync import apply_config_once
from tollway_cli.bus_credentials import BusCredentials
from tollway_cli.processes import ManagedProcess, spawn, wait_for_log
from tollway_cli.servers import NatsServer, RedisServer, free_port, start_nats, start_redis
from tollway_common.bus_permissions import ExtraUser, Service
from tollway_common.config_file import BootstrapKey, TollwayConfig
from tollway_common.control import (
    Budget,
    Credential,
    Deployment,
    Limits,
    ModelAlias,
    Price,
    RoutingStrategy,
)

BENCH_KEY = "sk-tollway-bench-0123456789abcdefghijkl"
# A key with rate limits, a parallel cap and a budget, to measure what admission costs.
BENCH_LIMITED_KEY = "sk-tollway-bench-limited-0123456789abcd"
READY_TIMEOUT_S = 30.0
_FLOOR_USER = ExtraUser("bench-floor", secrets.token_urlsafe(16))
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Wrapper:
    """Runs a service's module through another, `python -m <module> <service module>`, with
    extra environment: how `bench.service_cost` starts one service under `bench.profiled`."""

    module: str
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class BenchStack:
    workdir: Path
    edge_workers: int = 1
    routers: int = 1
    stream_delay_ms: float = 10.0
    nats: NatsServer | None = None
    redis: RedisServer | None = None
    processes: list[ManagedProcess] = field(default_factory=list)
    upstream_port: int = 0
    stream_upstream_port: int = 0
    edge_port: int = 0
    # Keyed by the service module they wrap ("tollway_router"): every process of it.
    wrappers: dict[str, Wrapper] = field(default_factory=dict)

    @property
    def edge_url(self) -> str:
        return f"http://127.0.0.1:{self.edge_port}/v1/chat/completions"

    def upstream_url(self, stream: bool) -> str:
        port = self.stream_upstream_port if stream else self.upstream_port
        return f"http://127.0.0.1:{port}/v1/chat/completions"

    def command(self, args: list[str], env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
        """A process's arguments and environment, through its wrapper if it has one."""
        if len(args) >= 2 and args[0] == "-m" and args[1] in self.wrappers:
            wrapper = self.wrappers[args[1]]
            return ["-m", wrapper.module, *args[1:]], {**env, **wrapper.env}
        return args, env

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> ManagedProcess:
        args, env = self.command(args, env)
        process = spawn(name, [sys.executable, *args], self.workdir / f"{name}.log", env)
        self.processes.append(process)
        return process

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        # The floor measures raw NATS on its own subject, as a user of its own.
        self.nats = start_nats(
            self.workdir / "nats", BusCredentials.generate(), extra_users=(_FLOOR_USER,)
        )
        self.redis = start_redis(self.workdir / "redis")
        self.upstream_port = free_port()
        self.stream_upstream_port = free_port()
        self._spawn("upstream", ["-m", "bench.upstream", str(self.upstream_port)], {})
        self._spawn(
            "upstream-stream",
            ["-m", "bench.upstream", str(self.stream_upstream_port), str(self.stream_delay_ms)],
            {},
        )
        asyncio.run(self._apply_config())
        nats = self.nats
        floor = self._spawn("floor", ["-m", "bench.floor", nats.url_as(_FLOOR_USER.name)], {})
        quiet = {"TOLLWAY_EDGE_LOG__LEVEL": "WARNING", "TOLLWAY_ROUTER_LOG__LEVEL": "WARNING"}
        for index in range(self.routers):
            self._spawn(
                f"router-{index}",
                ["-m", "tollway_router"],
                # The pool's key files are in the work folder: the router reads secrets only
                # from its allowed directory.
                {**nats.env(Service.ROUTER), "TOLLWAY_SECRETS_DIR": str(self.workdir), **quiet},
            )
        self._spawn(
            "metering",
            ["-m", "tollway_metering"],
            {
                **nats.env(Service.METERING),
                "TOLLWAY_METERING_CLICKHOUSE_DSN": f"chdb://{self.workdir / 'clickhouse'}",
            },
        )
        self.edge_port = free_port()
        self._spawn(
            "edge",
            ["-m", "tollway_edge"],
            {
                **nats.env(Service.EDGE),
                "TOLLWAY_EDGE_REDIS__URL": self.redis.url,
                "TOLLWAY_EDGE_PORT": str(self.edge_port),
                "TOLLWAY_EDGE_WORKERS": str(self.edge_workers),
                "TOLLWAY_EDGE_METRICS__PORT": "0",
                **quiet,
            },
        )
        self._wait_ready(floor)

    async def _apply_config(self) -> None:
        assert self.nats is not None
        secret = self.workdir / "bench-key"
        secret.write_text(BENCH_KEY)

        def model(name: str, port: int) -> ModelAlias:
            deployment = Deployment(
                name=f"{name}-upstream",
                provider="openai",
                model="bench-1",
                api_base=f"http://127.0.0.1:{port}/v1",
            )
            return ModelAlias(name=name, deployments=[deployment])

        # Routing at work: three deployments (one with a key pool) chosen by least in-flight,
        # all on the same upstream, so the figure is the cost of choosing, not of the upstream.
        pool_secret = self.workdir / "bench-pool-key"
        pool_secret.write_text("sk-bench-pool")
        routed = ModelAlias(
            name="bench-routed",
            strategy=RoutingStrategy.LEAST_INFLIGHT,
            deployments=[
                Deployment(
                    name=f"bench-routed-{i}",
                    provider="openai",
                    model="bench-1",
                    api_base=f"http://127.0.0.1:{self.upstream_port}/v1",
                    credentials=[
                        Credential(name=f"k{n}", api_key=f"file:{pool_secret}")
                        for n in range(3 if i == 0 else 1)
                    ],
                )
                for i in range(3)
            ],
        )

        limited_secret = self.workdir / "bench-limited-key"
        limited_secret.write_text(BENCH_LIMITED_KEY)
        config = TollwayConfig(
            models=[
                model("bench", self.upstream_port),
                model("bench-stream", self.stream_upstream_port),
                routed,
            ],
            prices=[
                Price(model=name, input_per_mtok=Decimal(1), output_per_mtok=Decimal(2))
                for name in ("bench", "bench-stream")
            ],
            budgets=[Budget(budget_id="bench", amount=Decimal(1_000_000))],
            keys=[
                BootstrapKey(name="bench", secret=f"file:{secret}"),
                # Limits far above the load, so the bench measures what admission costs, not
                # refusals: every request runs the full reserve-and-settle path.
                BootstrapKey(
                    name="bench-limited",
                    secret=f"file:{limited_secret}",
                    limits=Limits(rpm=10_000_000, tpm=10_000_000_000, max_parallel=100_000),
                    budget_ids=["bench"],
                ),
            ],
        )
        await apply_config_once(self.nats.settings(Service.ADMIN), config)

    def _wait_ready(self, floor: ManagedProcess) -> None:
        """Ready when the floor's responder listens and one request goes through the edge."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        wait_for_log(floor, "floor ready", timeout=READY_TIMEOUT_S, check=self._check_alive)
        probe = {"model": "bench", "messages": [{"role": "user", "content": "warm up"}]}
        last = "no answer yet"
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                response = httpx.post(
                    self.edge_url,
                    json=probe,
                    headers={"authorization": f"Bearer {BENCH_KEY}"},
                    timeout=5,
                )
                if response.status_code == 200:
                    return
                last = f"{response.status_code} {response.text[:200]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.1)
        raise RuntimeError(
            f"the bench stack did not become ready (last warm-up answer: {last}); "
            f"logs in {self.workdir}"
        )

    def _check_alive(self) -> None:
        for process in self.processes:
            code = process.exit_code()
            if code is not None:
                raise process.failure(f"exited with code {code}")

    def service_processes(self) -> dict[str, list[psutil.Process]]:
        """Each Tollway service's processes, uvicorn worker children included."""
        found: dict[str, list[psutil.Process]] = {}
        for process in self.processes:
            if process.name.startswith("upstream") or process.name == "floor":
                continue
            root = psutil.Process(process.pid)
            kind = process.name.split("-")[0]
            found.setdefault(kind, []).extend([root, *root.children(recursive=True)])
        if self.nats is not None:
            found["nats-server"] = [psutil.Process(self.nats.pid)]
        return found

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop(STOP_TIMEOUT_S)
        if self.redis is not None:
            self.redis.stop()
        if self.nats is not None:
            self.nats.stop()
