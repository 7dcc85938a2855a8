"""The launcher's restart rule, on real short-lived processes and a clock the test moves."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psutil
import pytest

from tollway_cli.processes import ManagedProcess, ProcessError, spawn
from tollway_cli.supervisor import (
    BACKOFF_MAX_S,
    STABLE_AFTER_S,
    Supervisor,
    backoff_s,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _exits(log: Path, code: int) -> ManagedProcess:
    process = spawn("crasher", [sys.executable, "-c", f"print('boom'); exit({code})"], log)
    process.popen.wait(30)
    return process


def _sleeps(log: Path) -> ManagedProcess:
    return spawn("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], log)


def test_the_backoff_doubles_from_one_second_to_its_cap() -> None:
    assert [backoff_s(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert backoff_s(20) == BACKOFF_MAX_S


def test_a_crashed_child_is_reported_and_started_again_after_its_backoff(tmp_path: Path) -> None:
    clock, reports = Clock(), list[str]()
    starts: list[ManagedProcess] = []

    def start() -> ManagedProcess:
        starts.append(
            _exits(tmp_path / "crasher.log", 3) if not starts else _sleeps(tmp_path / "s.log")
        )
        return starts[-1]

    supervisor = Supervisor(reports.append, clock)
    supervisor.start("router", start)
    supervisor.check()
    assert "router exited with code 3; restarting it in 1 s" in reports[0]
    assert "boom" in reports[0], "the report carries the end of its log"
    clock.now += 0.5
    supervisor.check()
    assert len(starts) == 1, "not before its back-off is over"
    clock.now += 0.6
    supervisor.check()
    assert len(starts) == 2
    assert reports[-1] == f"router restarted (pid {starts[1].pid})"
    [child] = supervisor.children
    assert child.restarts == 1
    supervisor.stop_all()
    assert starts[1].exit_code() is not None


def test_crashes_in_a_row_back_off_longer_and_a_stable_run_starts_over(tmp_path: Path) -> None:
    clock, reports = Clock(), list[str]()
    supervisor = Supervisor(reports.append, clock)
    supervisor.start("edge", lambda: _exits(tmp_path / "edge.log", 1))
    delays = []
    for _ in range(3):
        supervisor.check()
        [child] = supervisor.children
        assert child.restart_at is not None
        delays.append(child.restart_at - clock.now)
        clock.now = child.restart_at
        supervisor.check()
    assert delays == [1.0, 2.0, 4.0]
    clock.now += STABLE_AFTER_S
    supervisor.check()
    [child] = supervisor.children
    assert child.restart_at == clock.now + 1.0, "a minute up counts as healthy again"


def test_a_child_that_fails_to_start_again_is_tried_later(tmp_path: Path) -> None:
    clock, reports = Clock(), list[str]()
    attempts = 0

    def start() -> ManagedProcess:
        nonlocal attempts
        attempts += 1
        if attempts == 2:
            raise ProcessError("port taken")
        return _exits(tmp_path / "nats.log", 0)

    supervisor = Supervisor(reports.append, clock)
    supervisor.start("nats-server", start)
    supervisor.check()
    clock.now += 1.0
    supervisor.check()
    assert reports[-1] == "nats-server did not start again (port taken); next try in 2 s"
    clock.now += 2.0
    supervisor.check()
    assert attempts == 3


def test_stopping_stops_every_child_and_starts_none_waiting(tmp_path: Path) -> None:
    clock = Clock()
    supervisor = Supervisor(lambda _: None, clock)
    sleeper = supervisor.start("admin", lambda: _sleeps(tmp_path / "admin.log"))
    started = time.monotonic()
    supervisor.stop_all()
    assert sleeper.exit_code() is not None
    assert time.monotonic() - started < 10


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_child_spawned_to_die_with_its_parent_does(tmp_path: Path) -> None:
    """A middle process spawns a sleeper with die_with_parent and is then SIGKILLed: the
    sleeper must not survive it."""
    pid_file = tmp_path / "sleeper.pid"
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from tollway_cli.processes import spawn\n"
        f"p = spawn('s', [sys.executable, '-c', 'import time; time.sleep(60)'], "
        f"Path({str(tmp_path / 's.log')!r}), die_with_parent=True)\n"
        f"Path({str(pid_file)!r}).write_text(str(p.pid))\n"
        "time.sleep(60)\n"
    )
    middle = spawn("middle", [sys.executable, "-c", code], tmp_path / "middle.log")
    deadline = time.monotonic() + 30
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    sleeper = int(pid_file.read_text())
    survivor = psutil.Process(sleeper)
    middle.kill()
    try:
        survivor.wait(10)
    except psutil.TimeoutExpired:
        survivor.kill()
        pytest.fail("the child outlived the parent that was killed")
