"""Run the edge as `python -m tollway_edge` does, with cProfile switched on by SIGUSR1 and its
statistics written to `$TOLLWAY_EDGE_PROFILE` by SIGUSR2 (used by `bench.edge_cost`)."""

from __future__ import annotations

import cProfile
import os
import signal
from types import FrameType

from tollway_edge.__main__ import main

_profiler = cProfile.Profile()


def _start(signum: int, frame: FrameType | None) -> None:
    _profiler.enable()


def _stop(signum: int, frame: FrameType | None) -> None:
    _profiler.disable()
    _profiler.dump_stats(os.environ["TOLLWAY_EDGE_PROFILE"])
    _profiler.clear()


if __name__ == "__main__":
    signal.signal(signal.SIGUSR1, _start)
    signal.signal(signal.SIGUSR2, _stop)
    main()
