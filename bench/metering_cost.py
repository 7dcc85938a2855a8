"""Metering alone: CPU per usage event and peak RSS, with embedded chDB.

A real nats-server with JetStream and the real metering process (`python -m tollway_metering`
storing into chDB in a temporary folder); this process publishes synthetic usage events the
way a router does (one JetStream publish per request, deduplicated by its message id) and
waits until metering has acked every one. Two phases:

- **paced**: `--rate` events a second for `--seconds`, as a gateway under steady load sends
  them: metering's CPU over the phase (and the time it takes to drain) per event;
- **burst**: `--burst` events published as fast as JetStream takes them (a catch-up after an
  outage, or saturation): full batches, the cheapest metering gets per event.

Idle CPU (timers, heartbeats) is measured for a few seconds first and reported apart.

    python -m bench.metering_cost [--rate 1000] [--seconds 20] [--burst 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import signal
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import nats
import psutil
from nats.js import JetStreamContext

from bench.load import on_schedule
from tollway_cli.bus_credentials import BusCredentials
from tollway_cli.processes import ManagedProcess, spawn, wait_for_log
from tollway_cli.servers import NatsServer, start_nats
from tollway_common import contract, nats_client
from tollway_common.bus_permissions import ExtraUser, Service
from tollway_common.contract import ClientInfo, Endpoint, Principal, UsageEvent
from tollway_common.control import Price, encode_record, kv_key_for_alias
from tollway_common.ids import new_request_id, usage_msg_id

_USER = ExtraUser("bench-metering", secrets.token_urlsafe(16))
_READY_TIMEOUT_S = 60.0
_DRAIN_TIMEOUT_S = 120.0
_IDLE_S = 5.0
ALIAS = "gpt-4o-mini"
# Publishes in flight at once during the burst.
_BURST_WINDOW = 500
RESULTS = Path(__file__).parent / "results"


def usage_event(index: int) -> UsageEvent:
    """A router's usage event for a chat request of an alias the operator priced, varied like
    real traffic."""
    return UsageEvent(
        request_id=new_request_id(),
        received_at_ms=int(time.time() * 1000),
        endpoint=Endpoint.CHAT_COMPLETIONS,
        principal=Principal(
            key_id=f"key-{index % 50}",
            key_name=f"bench key {index % 50}",
            user_id=f"user-{index % 200}",
            team_id=f"team-{index % 10}",
            org_id=f"org-{index % 3}",
        ),
        model_alias=ALIAS,
        deployment="openai-1",
        provider="openai",
        upstream_model="gpt-4o-mini-2024-07-18",
        status_code=200 if index % 50 else 429,
        prompt_tokens=100 + index % 900,
        completion_tokens=20 + index % 300,
        total_tokens=120 + index % 900 + index % 300,
        cached_read_tokens=index % 64,
        latency_ms=250.0 + index % 400,
        ttft_ms=80.0 + index % 50 if index % 2 else None,
        upstream_latency_ms=240.0 + index % 400,
        stream=bool(index % 2),
        router_id="router-bench",
        trace_id=secrets.token_hex(16),
        attempts=["openai-1"],
        client=ClientInfo(ip_hash=secrets.token_hex(8), user_agent="OpenAI/Python 1.99.0"),
    )


def _rss_kib(pid: int) -> dict[str, int]:
    """RssAnon, RssFile and RssShmem of a process, in KiB."""
    found = {"RssAnon": 0, "RssFile": 0, "RssShmem": 0}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in found:
            found[name] = int(value.split()[0])
    return found


class Watch:
    """CPU seconds and peak RSS of one process between enter and exit (RSS sampled at 10 Hz)."""

    def __init__(self, process: psutil.Process) -> None:
        self._process = process
        self.peak_rss_mib = 0.0
        self.peak_anon_mib = 0.0
        self.peak_file_mib = 0.0
        self.cpu_s = 0.0
        self.threads_cpu_s: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _cpu(self) -> float:
        times = self._process.cpu_times()
        return times.user + times.system

    def _threads(self) -> dict[int, tuple[str, float]]:
        """Each thread's name and CPU seconds (chDB names its threads; Python's are "python")."""
        found: dict[int, tuple[str, float]] = {}
        for thread in self._process.threads():
            try:
                name = Path(f"/proc/{self._process.pid}/task/{thread.id}/comm").read_text().strip()
            except OSError:
                continue
            found[thread.id] = (name, thread.user_time + thread.system_time)
        return found

    def _by_name(self, start: dict[int, tuple[str, float]]) -> dict[str, float]:
        spent: dict[str, float] = {}
        for tid, (name, cpu) in self._threads().items():
            spent[name] = spent.get(name, 0.0) + cpu - start.get(tid, (name, 0.0))[1]
        ranked = sorted(spent.items(), key=lambda item: -item[1])[:6]
        return {name: round(cpu, 3) for name, cpu in ranked if cpu > 0}

    def _poll(self) -> None:
        while not self._stop.is_set():
            rss = _rss_kib(self._process.pid)
            total = (rss["RssAnon"] + rss["RssFile"] + rss["RssShmem"]) / 1024
            if total > self.peak_rss_mib:
                self.peak_rss_mib = total
                # Anonymous memory is the process's own; file pages are mostly chDB's binary.
                self.peak_anon_mib = rss["RssAnon"] / 1024
                self.peak_file_mib = rss["RssFile"] / 1024
            self._stop.wait(0.1)

    def __enter__(self) -> Watch:
        self._start = self._cpu()
        self._threads_start = self._threads()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.cpu_s = self._cpu() - self._start
        self.threads_cpu_s = self._by_name(self._threads_start)


@dataclass
class Phase:
    name: str
    events: int
    seconds: float
    cpu_s: float
    cpu_us_per_event: float
    peak_rss_mib: float
    peak_anon_mib: float
    peak_file_mib: float
    threads_cpu_s: dict[str, float]


async def _publish(js: JetStreamContext, event: UsageEvent) -> None:
    await js.publish(
        contract.USAGE_SUBJECT,
        contract.encode(event),
        headers={contract.HEADER_MSG_ID: usage_msg_id(event.request_id)},
    )


async def _drained(js: JetStreamContext, total: int, metering: ManagedProcess) -> None:
    """Until metering has acked `total` events since the durable was made."""
    deadline = time.monotonic() + _DRAIN_TIMEOUT_S
    while time.monotonic() < deadline:
        if metering.exit_code() is not None:
            raise RuntimeError(f"metering exited: {metering.log_tail()}")
        info = await js.consumer_info(contract.USAGE_STREAM, contract.USAGE_DURABLE)
        if info.ack_floor.stream_seq >= total and info.num_pending == 0:
            return
        await asyncio.sleep(0.02)
    raise TimeoutError("metering did not ack every event in time")


async def measure(
    args: argparse.Namespace, nats_server: NatsServer, metering: ManagedProcess
) -> list[Phase]:
    process = psutil.Process(metering.pid)
    nc = await nats.connect(nats_server.url_as(_USER.name))
    js = nc.jetstream()
    phases: list[Phase] = []
    try:
        with Watch(process) as idle:
            await asyncio.sleep(_IDLE_S)
        phases.append(
            Phase(
                "idle",
                0,
                _IDLE_S,
                idle.cpu_s,
                0.0,
                idle.peak_rss_mib,
                idle.peak_anon_mib,
                idle.peak_file_mib,
                idle.threads_cpu_s,
            )
        )
        published = 0

        events = [usage_event(i) for i in range(int(args.rate * args.seconds))]
        started = time.perf_counter()
        profiler = _profile(metering.pid, args.profile)
        with Watch(process) as paced:
            sent = iter(events)

            async def send(_: float) -> None:
                await _publish(js, next(sent))

            await on_schedule(args.rate, args.seconds, send)
            published += len(events)
            await _drained(js, published, metering)
        if profiler is not None:
            profiler.popen.send_signal(signal.SIGINT)
            profiler.popen.wait(timeout=60)
        phases.append(_phase("paced", len(events), time.perf_counter() - started, paced))

        if args.burst:
            burst = [usage_event(i) for i in range(args.burst)]
            started = time.perf_counter()
            with Watch(process) as drain:
                for first in range(0, len(burst), _BURST_WINDOW):
                    window = burst[first : first + _BURST_WINDOW]
                    await asyncio.gather(*(_publish(js, event) for event in window))
                published += len(burst)
                await _drained(js, published, metering)
            phases.append(_phase("burst", len(burst), time.perf_counter() - started, drain))
    finally:
        await nc.close()
    return phases


def _profile(pid: int, path: Path | None) -> ManagedProcess | None:
    """py-spy recording `pid` until SIGINT: a flame graph (.svg) or collapsed stacks (.txt)."""
    if path is None:
        return None
    fmt = "flamegraph" if path.suffix == ".svg" else "raw"
    py_spy = Path(sys.executable).with_name("py-spy")
    command = [str(py_spy), "record", "--pid", str(pid), "--format", fmt, "--output", str(path)]
    return spawn("py-spy", [*command, "--rate", "250", "--nonblocking"], path.with_suffix(".log"))


def _phase(name: str, events: int, seconds: float, watch: Watch) -> Phase:
    per_event = watch.cpu_s / events * 1e6
    return Phase(
        name,
        events,
        seconds,
        watch.cpu_s,
        per_event,
        watch.peak_rss_mib,
        watch.peak_anon_mib,
        watch.peak_file_mib,
        watch.threads_cpu_s,
    )


def start(workdir: Path, env: dict[str, str]) -> tuple[NatsServer, ManagedProcess]:
    nats_server = start_nats(workdir / "nats", BusCredentials.generate(), extra_users=(_USER,))
    asyncio.run(_prepare(nats_server))
    metering = spawn(
        "metering",
        [sys.executable, "-m", "tollway_metering"],
        workdir / "metering.log",
        {
            **nats_server.env(Service.METERING),
            "TOLLWAY_METERING_CLICKHOUSE_DSN": f"chdb://{workdir / 'clickhouse'}",
            "TOLLWAY_METERING_MONITOR__ENABLED": "false",
            **env,
        },
    )
    try:
        wait_for_log(metering, "metering ready", timeout=_READY_TIMEOUT_S)
    except Exception:
        metering.stop()
        nats_server.stop()
        raise
    return nats_server, metering


async def _prepare(nats_server: NatsServer) -> None:
    """The usage stream, and an operator price for the events' alias (as in `make bench`)."""
    nc = await nats.connect(nats_server.url_as(_USER.name))
    try:
        js = nc.jetstream()
        await nats_client.ensure_usage_stream(js, 1)
        prices = await nats_client.ensure_kv(js, contract.KV_PRICES, 1)
        price = Price(model=ALIAS, input_per_mtok=Decimal("0.15"), output_per_mtok=Decimal("0.6"))
        await prices.put(kv_key_for_alias(ALIAS), encode_record(price))
    finally:
        await nc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="paced events per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="paced phase length")
    parser.add_argument("--burst", type=int, default=20_000, help="events of the burst phase")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="metering's environment"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="py-spy the paced phase into this file (.svg flame graph, else collapsed stacks)",
    )
    parser.add_argument("--no-save", action="store_true", help="print only, write no result file")
    args = parser.parse_args()
    env = dict(item.split("=", 1) for item in args.env)
    with tempfile.TemporaryDirectory(prefix="tollway-metering-cost-") as folder:
        workdir = Path(folder)
        nats_server, metering = start(workdir, env)
        try:
            phases = asyncio.run(measure(args, nats_server, metering))
            peak = max(phase.peak_rss_mib for phase in phases)
        finally:
            metering.stop()
            nats_server.stop()
    for phase in phases:
        print(
            f"{phase.name:8} {phase.events:6} events in {phase.seconds:6.2f} s: "
            f"CPU {phase.cpu_s:6.2f} s, {phase.cpu_us_per_event:7.1f} µs/event, "
            f"peak RSS {phase.peak_rss_mib:5.0f} MiB "
            f"(anon {phase.peak_anon_mib:.0f}, file {phase.peak_file_mib:.0f})"
        )
        threads = ", ".join(f"{name} {cpu:.2f}" for name, cpu in phase.threads_cpu_s.items())
        print(f"{'':9}CPU s by thread: {threads}")
    print(f"peak RSS {peak:.0f} MiB")
    if not args.no_save:
        RESULTS.mkdir(exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = RESULTS / f"metering-{stamp}.json"
        record = {"env": env, "args": vars(args), "phases": [asdict(p) for p in phases]}
        path.write_text(json.dumps(record, indent=2) + "\n")
        print(f"saved {path}")


if __name__ == "__main__":
    main()
