"""`python -m bench.profiled_router`: the router, with cProfile switched on by SIGUSR1 and off
by SIGUSR2 (which writes the stats to $BENCH_ROUTER_STATS); see bench.router_profile."""

from __future__ import annotations

import cProfile
import os
import signal
from pathlib import Path
from types import FrameType

from tollway_router.__main__ import main

_PROFILER = cProfile.Profile()
STATS_FILE = Path(os.environ.get("BENCH_ROUTER_STATS", "router.pstats"))


def _start(_signum: int, _frame: FrameType | None) -> None:
    _PROFILER.enable()


def _stop(_signum: int, _frame: FrameType | None) -> None:
    _PROFILER.disable()
    _PROFILER.dump_stats(str(STATS_FILE))
    _PROFILER.clear()


if __name__ == "__main__":
    signal.signal(signal.SIGUSR1, _start)
    signal.signal(signal.SIGUSR2, _stop)
    main()
