"""Keep the launcher's processes running: a child that exits is reported and started again
after a back-off that doubles with each crash in a row (1 s up to 30 s) and starts over once
the child has stayed up for a minute.

`launcher.py` starts the children through it and stops them through it, in reverse order;
this module knows nothing of what the children are. The clock is passed in, so the restart
rule is unit-tested without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from tollway_cli.processes import ManagedProcess, ProcessError

BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
# A child that ran this long before it exited is counted as having been healthy.
STABLE_AFTER_S = 60.0
_LOG_LINES_REPORTED = 8


def backoff_s(crashes_in_a_row: int) -> float:
    return float(min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** max(0, crashes_in_a_row - 1)))


@dataclass
class Child:
    name: str
    start: Callable[[], ManagedProcess]
    process: ManagedProcess
    started_at: float
    crashes_in_a_row: int = 0
    restarts: int = 0
    restart_at: float | None = None


class Supervisor:
    def __init__(
        self,
        report: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._report = report
        self._clock = clock
        self.children: list[Child] = []

    def start(self, name: str, start: Callable[[], ManagedProcess]) -> ManagedProcess:
        """Start a child now (a failure to start raises) and keep it running from then on."""
        return self.adopt(name, start(), start)

    def adopt(
        self, name: str, process: ManagedProcess, restart: Callable[[], ManagedProcess]
    ) -> ManagedProcess:
        """Keep an already started child running; `restart` starts it again after a crash."""
        self.children.append(Child(name, restart, process, self._clock()))
        return process

    def check(self) -> None:
        """One pass: notice children that exited and start those whose back-off is over."""
        for child in self.children:
            if child.restart_at is None:
                self._notice_exit(child)
            elif self._clock() >= child.restart_at:
                self._restart(child)

    def _notice_exit(self, child: Child) -> None:
        code = child.process.exit_code()
        if code is None:
            return
        now = self._clock()
        if now - child.started_at >= STABLE_AFTER_S:
            child.crashes_in_a_row = 0
        child.crashes_in_a_row += 1
        delay = backoff_s(child.crashes_in_a_row)
        child.restart_at = now + delay
        tail = "\n".join(child.process.log_tail().splitlines()[-_LOG_LINES_REPORTED:])
        self._report(
            f"{child.name} exited with code {code}; restarting it in {delay:g} s "
            f"(crash {child.crashes_in_a_row} in a row). Its log ({child.process.log_path}) "
            f"ends with:\n{tail}"
        )

    def _restart(self, child: Child) -> None:
        try:
            child.process = child.start()
        except ProcessError as exc:
            child.crashes_in_a_row += 1
            delay = backoff_s(child.crashes_in_a_row)
            child.restart_at = self._clock() + delay
            self._report(f"{child.name} did not start again ({exc}); next try in {delay:g} s")
            return
        child.started_at = self._clock()
        child.restart_at = None
        child.restarts += 1
        self._report(f"{child.name} restarted (pid {child.process.pid})")

    def stop_all(self) -> None:
        """Stop every child, the last started first; one waiting to restart is not started."""
        for child in reversed(self.children):
            child.restart_at = None
            child.process.stop()
