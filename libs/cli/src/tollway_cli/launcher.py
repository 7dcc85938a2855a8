"""Run the whole gateway on one machine: nats-server, redis-server and the four services as
separate processes, each restarted when it crashes (`supervisor.py`), all stopped cleanly on
Ctrl-C or SIGTERM and with the launcher even when it is killed hard."""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO

from tollway_cli import debug_mode
from tollway_cli.bus_credentials import BusCredentials
from tollway_cli.devkey import (
    ADMIN_TOKEN_ENV,
    CLIENT_IP_SALT_ENV,
    ENV_NAME,
    OAUTH_KEY_ENV,
    SESSION_SECRET_ENV,
    admin_session_secret,
    admin_token,
    client_ip_salt,
    dev_api_key,
    oauth_key_reference,
)
from tollway_cli.processes import ManagedProcess, ProcessError, spawn_module, wait_until_ready
from tollway_cli.servers import start_nats, start_redis
from tollway_cli.service_env import service_env
from tollway_cli.supervisor import Supervisor
from tollway_common.bus_permissions import Service
from tollway_common.config_file import ConfigError, load_config
from tollway_common.secret_policy import SecretPolicy

_READY_TIMEOUT_S = 60.0


class LaunchError(RuntimeError):
    pass


@dataclass(frozen=True)
class LaunchOptions:
    config: Path
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8080
    admin_port: int = 8081
    router_monitor_port: int = 9090
    metering_monitor_port: int = 9091
    edge_metrics_port: int = 9092
    debug: bool = False


class AlreadyRunning(LaunchError):
    pass


class Launcher:
    def __init__(self, options: LaunchOptions) -> None:
        self.options = options
        self.data_dir = options.data_dir.resolve()
        self.supervisor = Supervisor(_report)
        self._lock: IO[str] | None = None
        self._stop_requested = False

    def run(self) -> int:
        self._take_lock()
        signal.signal(signal.SIGINT, self._request_stop)
        signal.signal(signal.SIGTERM, self._request_stop)
        try:
            self._start_all()
            self._print_banner()
            return self._supervise()
        except (LaunchError, ProcessError) as exc:
            print(f"tollway: {exc}", file=sys.stderr)
            return 1
        finally:
            self._stop_all()

    def _request_stop(self, signum: int, frame: FrameType | None) -> None:
        self._stop_requested = True

    def _take_lock(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        lock = (self.data_dir / "run.lock").open("a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            lock.close()
            raise AlreadyRunning(
                f"Tollway is already running from {self.data_dir} ({holder}). "
                "Stop it first (Ctrl-C in its terminal), or use another --data-dir."
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"pid {os.getpid()}, {self._base_url()}")
        lock.flush()
        self._lock = lock

    def _base_url(self) -> str:
        return f"http://{self.options.host}:{self.options.port}/v1"

    _dev_key = ""
    _admin_token = ""

    def _start_all(self) -> None:
        if self.options.debug:
            _report(debug_mode.WARNING)
        ports = (
            (self.options.port, "edge", "port"),
            (self.options.admin_port, "admin", "admin-port"),
            (self.options.router_monitor_port, "router monitor", "router-monitor-port"),
            (self.options.metering_monitor_port, "metering monitor", "metering-monitor-port"),
            (self.options.edge_metrics_port, "edge metrics", "edge-metrics-port"),
        )
        for port, what, flag in ports:
            if not _port_free(self.options.host, port):
                raise LaunchError(
                    f"port {port} ({what}) is already in use by another program; "
                    f"choose another with --{flag}"
                )
        print("tollway: starting nats-server and redis-server ...", flush=True)
        # Each service gets only its own NATS password; the bus refuses anyone else.
        bus = BusCredentials.load_or_create(self.data_dir)
        nats = start_nats(self.data_dir / "nats", bus, die_with_parent=True)
        # A restart keeps the port the services were given.
        self.supervisor.adopt(
            "nats-server",
            nats,
            lambda: start_nats(self.data_dir / "nats", bus, nats.port, die_with_parent=True),
        )
        redis = start_redis(self.data_dir / "redis", die_with_parent=True)
        self.supervisor.adopt(
            "redis-server",
            redis,
            lambda: start_redis(self.data_dir / "redis", redis.port, die_with_parent=True),
        )
        key = dev_api_key(self.data_dir)
        self._dev_key = key
        self._admin_token = admin_token(self.data_dir)
        logs = self.data_dir / "logs"
        logs.mkdir(exist_ok=True)
        policy = SecretPolicy()
        key_secrets = _key_secret_names(self.options.config)
        admin_env = {
            **bus.env(Service.ADMIN, nats.url),
            "TOLLWAY_ADMIN_CONFIG_FILE": str(self.options.config.resolve()),
            "TOLLWAY_ADMIN_HOST": self.options.host,
            "TOLLWAY_ADMIN_PORT": str(self.options.admin_port),
            ADMIN_TOKEN_ENV: self._admin_token,
            SESSION_SECRET_ENV: admin_session_secret(self.data_dir),
            # The sample config's bootstrap key reads the dev key from here.
            ENV_NAME: key,
            # The UI is served over plain HTTP on this machine.
            "TOLLWAY_ADMIN_COOKIE_SECURE": "false",
            # A development install: the API's interactive docs at /docs.
            "TOLLWAY_ADMIN_API_DOCS": "true",
        }
        metering_env = {
            **bus.env(Service.METERING, nats.url),
            "TOLLWAY_METERING_CLICKHOUSE_DSN": f"chdb://{self.data_dir / 'clickhouse'}",
            **self._monitor_env("METERING", self.options.metering_monitor_port),
        }
        router_env = {
            **bus.env(Service.ROUTER, nats.url),
            OAUTH_KEY_ENV: oauth_key_reference(self.data_dir),
            **self._monitor_env("ROUTER", self.options.router_monitor_port),
        }
        edge_env = {
            **bus.env(Service.EDGE, nats.url),
            "TOLLWAY_EDGE_REDIS__URL": redis.url,
            "TOLLWAY_EDGE_HOST": self.options.host,
            "TOLLWAY_EDGE_PORT": str(self.options.port),
            CLIENT_IP_SALT_ENV: client_ip_salt(self.data_dir),
            "TOLLWAY_EDGE_METRICS__HOST": self.options.host,
            "TOLLWAY_EDGE_METRICS__PORT": str(self.options.edge_metrics_port),
        }
        specs = [
            ("admin", "tollway_admin", admin_env),
            ("metering", "tollway_metering", metering_env),
            ("router", "tollway_router", router_env),
            ("edge", "tollway_edge", edge_env),
        ]
        started: list[ManagedProcess] = []
        for name, module, env in specs:
            extra = key_secrets if name == "admin" else ()
            own = {**service_env(name, os.environ, policy, extra), **env}
            if self.options.debug:
                own.update(debug_mode.service_settings(name))
            print(f"tollway: starting {name} ...", flush=True)
            service = self.supervisor.start(name, _service_starter(name, module, own, logs))
            started.append(service)
            if name == "admin":
                self._wait_ready(service, self.options.admin_port)
        monitors = {
            "router": self.options.router_monitor_port,
            "metering": self.options.metering_monitor_port,
            "edge": self.options.port,
        }
        for service in started:
            if service.name in monitors:
                self._wait_ready(service, monitors[service.name])

    def _monitor_env(self, service: str, port: int) -> dict[str, str]:
        prefix = f"TOLLWAY_{service}_MONITOR__"
        return {
            f"{prefix}ENABLED": "true",
            f"{prefix}HOST": self.options.host,
            f"{prefix}PORT": str(port),
        }

    def _wait_ready(self, service: ManagedProcess, port: int) -> None:
        url = f"http://{self.options.host}:{port}/readyz"
        wait_until_ready(service, url, timeout=_READY_TIMEOUT_S, check=self._check_starting)

    def _check_starting(self) -> None:
        if self._stop_requested:
            raise LaunchError("stopped while starting")
        self._check_alive()

    def _check_alive(self) -> None:
        """While starting, a child that exits is a failed start, not a crash to restart."""
        for child in self.supervisor.children:
            code = child.process.exit_code()
            if code is not None:
                raise child.process.failure(f"exited with code {code}")

    def _metrics_urls(self) -> str:
        host = self.options.host
        ports = (
            self.options.edge_metrics_port,
            self.options.admin_port,
            self.options.router_monitor_port,
            self.options.metering_monitor_port,
        )
        return "\n                    ".join(f"http://{host}:{port}/metrics" for port in ports)

    def _print_banner(self) -> None:
        print(
            "\nTollway is running.\n"
            f"  OpenAI base URL : {self._base_url()}\n"
            f"  API key (dev)   : {self._dev_key}\n"
            f"  Admin UI        : http://{self.options.host}:{self.options.admin_port}/admin\n"
            f"  Admin token     : {self._admin_token}\n"
            f"  Metrics         : {self._metrics_urls()}\n"
            f"  Config          : {self.options.config}\n"
            f"  Data and logs   : {self.data_dir}\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        if self.options.debug:
            _report(debug_mode.WARNING)

    def _supervise(self) -> int:
        while not self._stop_requested:
            self.supervisor.check()
            time.sleep(0.5)
        print("tollway: stopping ...", flush=True)
        return 0

    def _stop_all(self) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.supervisor.stop_all()
        if self._lock is not None:
            self._lock.close()
        if self.supervisor.children:
            print("tollway: stopped", flush=True)


def _report(message: str) -> None:
    print(f"tollway: {message}", file=sys.stderr, flush=True)


def _service_starter(
    name: str, module: str, env: dict[str, str], logs: Path
) -> Callable[[], ManagedProcess]:
    def start() -> ManagedProcess:
        # Its own session: Ctrl-C reaches the launcher only, which stops the services in order.
        return spawn_module(
            name, module, env, logs, new_session=True, inherit_env=False, die_with_parent=True
        )

    return start


def _key_secret_names(config: Path) -> list[str]:
    """The variables the config file's bootstrap keys read (admin resolves them); a broken
    file gives none here and stops admin with its own message."""
    try:
        doc = load_config(config)
    except (ConfigError, OSError):
        return []
    secrets = [key.secret for key in doc.keys if key.secret]
    return [s.removeprefix("env:") for s in secrets if s.startswith("env:")]


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True
