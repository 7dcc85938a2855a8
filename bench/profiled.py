"""`python -m bench.profiled tollway_edge|tollway_router [service arguments]`: the service, run as
`python -m <service>` runs it, with cProfile switched on by SIGUSR1 and off by SIGUSR2, which
writes the statistics to $BENCH_PROFILE_STATS (see bench.service_cost). Profiling only between
the two signals keeps start-up and warm-up out of the counts."""

from __future__ import annotations

import cProfile
import importlib
import os
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import cast

SERVICES = ("tollway_edge", "tollway_router")
STATS_ENV = "BENCH_PROFILE_STATS"

_profiler = cProfile.Profile()


def _start(_signum: int, _frame: FrameType | None) -> None:
    _profiler.enable()


def _stop(_signum: int, _frame: FrameType | None) -> None:
    _profiler.disable()
    _profiler.dump_stats(os.environ[STATS_ENV])
    _profiler.clear()


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in SERVICES:
        sys.exit(f"usage: python -m bench.profiled {'|'.join(SERVICES)} [service arguments]")
    if STATS_ENV not in os.environ:
        sys.exit(f"set {STATS_ENV} to the file SIGUSR2 writes the statistics to")
    service = sys.argv[1]
    serve = cast(Callable[[], None], importlib.import_module(f"{service}.__main__").main)
    # The service reads its own arguments from sys.argv, as under `python -m <service>`.
    sys.argv = [service, *sys.argv[2:]]
    signal.signal(signal.SIGUSR1, _start)
    signal.signal(signal.SIGUSR2, _stop)
    serve()


if __name__ == "__main__":
    main()
