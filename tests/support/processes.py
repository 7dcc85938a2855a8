"""Run Tollway services as real subprocesses for tests, with their logs kept for failures."""

from __future__ import annotations

import contextlib
import os
import signal
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

_READY_TIMEOUT_S = 30.0


@dataclass
class ServiceProcess:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self, timeout: float = 40.0) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()


def spawn(
    name: str, module: str, env: dict[str, str], log_dir: Path, args: list[str] | None = None
) -> ServiceProcess:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with log_path.open("ab") as log_file:
        popen = subprocess.Popen(
            [sys.executable, "-m", module, *(args or [])],
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    return ServiceProcess(name, popen, log_path)


def wait_until_ready(
    process: ServiceProcess, url: str, verify: bool | ssl.SSLContext = True
) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"{process.name} exited early:\n{process.log()[-4000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1, verify=verify).status_code == 200:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{process.name} not ready at {url}:\n{process.log()[-4000:]}")


def wait_for_log(process: ServiceProcess, text: str, timeout: float = _READY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in process.log():
            return
        if process.popen.poll() is not None:
            raise RuntimeError(f"{process.name} exited early:\n{process.log()[-4000:]}")
        time.sleep(0.05)
    raise RuntimeError(f"{process.name} never logged {text!r}:\n{process.log()[-4000:]}")
