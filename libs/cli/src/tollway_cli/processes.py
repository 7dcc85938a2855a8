"""Start, watch and stop the gateway's processes, each with its own log file.

The one home for the launcher (`tollway run`), the test stack and the bench stack: a process is
spawned with its output in a log file, waited on until ready (an HTTP probe or a log line; a
failure carries the log's tail) and stopped with SIGTERM, a bounded wait, then SIGKILL.
`servers.py` starts nats-server and redis-server with it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 40.0
_POLL_S = 0.05
_TAIL_CHARS = 4000


class ProcessError(RuntimeError):
    """A process did not start, exited early, or never became ready; the message ends with the
    tail of its log."""


@dataclass
class ManagedProcess:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def exit_code(self) -> int | None:
        """None while it runs."""
        return self.popen.poll()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, chars: int = _TAIL_CHARS) -> str:
        return self.log()[-chars:]

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM, wait up to `timeout` seconds for a clean exit, then SIGKILL; the exit code."""
        if self.popen.poll() is None:
            self.popen.terminate()
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

    def failure(self, what: str) -> ProcessError:
        return ProcessError(
            f"{self.name} {what}; its log ({self.log_path}) ends with:\n{self.log_tail()}"
        )


_PR_SET_PDEATHSIG = 1


def _parent_death_signal() -> Callable[[], None] | None:
    """What a child runs before exec so that it gets SIGTERM when this process dies, even by
    SIGKILL (Linux's PR_SET_PDEATHSIG); None where the kernel has no such thing.

    The signal follows the thread that spawned the child, so only a long-lived thread (the
    launcher's main thread) may spawn with it.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def die_with_parent() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os.kill(os.getpid(), signal.SIGTERM)

    return die_with_parent


def spawn(
    name: str,
    command: list[str],
    log_path: Path,
    env: Mapping[str, str] | None = None,
    *,
    new_session: bool = False,
    inherit_env: bool = True,
    die_with_parent: bool = False,
) -> ManagedProcess:
    """Start `command` with stdout and stderr appended to `log_path`.

    Args:
        env: added to this process's environment (with `inherit_env` False: all of it).
        new_session: keep terminal signals (Ctrl-C) away from the child, so that its parent
            stops it in order.
        die_with_parent: the child is sent SIGTERM when this process dies, however it dies
            (Linux), so that no service outlives a launcher killed hard.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    inherited = os.environ if inherit_env else {}
    with log_path.open("ab") as log_file:
        popen = subprocess.Popen(
            command,
            env={**inherited, "PYTHONUNBUFFERED": "1", **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=new_session,
            preexec_fn=_parent_death_signal() if die_with_parent else None,
        )
    return ManagedProcess(name, popen, log_path)


def spawn_module(
    name: str,
    module: str,
    env: Mapping[str, str],
    log_dir: Path,
    args: list[str] | None = None,
    *,
    new_session: bool = False,
    inherit_env: bool = True,
    die_with_parent: bool = False,
) -> ManagedProcess:
    """`python -m module` with this interpreter, logging to `log_dir/<name>.log`."""
    return spawn(
        name,
        [sys.executable, "-m", module, *(args or [])],
        log_dir / f"{name}.log",
        env,
        new_session=new_session,
        inherit_env=inherit_env,
        die_with_parent=die_with_parent,
    )


def wait_until_ready(
    process: ManagedProcess,
    url: str,
    *,
    timeout: float = READY_TIMEOUT_S,
    verify: bool | ssl.SSLContext = True,
    check: Callable[[], None] | None = None,
) -> None:
    """Poll `url` until it answers 200.

    Args:
        check: called on every poll; it raises to give up early (another process died, a stop
            was requested).

    Raises:
        ProcessError: the process exited, or `timeout` passed.
    """

    def answers() -> bool:
        with contextlib.suppress(httpx.HTTPError):
            # trust_env off: a proxy from the environment must not stand between us and loopback.
            response = httpx.get(url, timeout=1, verify=verify, trust_env=False)
            return response.status_code == 200
        return False

    _wait(process, answers, f"not ready at {url}", timeout, check)


def wait_for_log(
    process: ManagedProcess,
    text: str,
    *,
    timeout: float = READY_TIMEOUT_S,
    check: Callable[[], None] | None = None,
) -> None:
    """Wait until the process's log contains `text`; raises ProcessError as wait_until_ready."""
    _wait(process, lambda: text in process.log(), f"never logged {text!r}", timeout, check)


def _wait(
    process: ManagedProcess,
    ready: Callable[[], bool],
    what: str,
    timeout: float,
    check: Callable[[], None] | None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check is not None:
            check()
        if ready():
            return
        code = process.exit_code()
        if code is not None:
            raise process.failure(f"exited with code {code}")
        time.sleep(_POLL_S)
    raise process.failure(f"{what} after {timeout:g} s")
