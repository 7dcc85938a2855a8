"""Python's garbage collector set for metering's batches (docs/bench.md, "Metering")."""

from __future__ import annotations

import gc

# Allocations between two collections of the youngest generation (Python's default: 700).
YOUNG_THRESHOLD = 10_000
# Collections of one generation between two of the next (Python's default: 10 and 10).
OLDER_THRESHOLD = 20


def settle_after_start() -> None:
    """Freeze what start-up built and collect the young generation less often.

    Start-up leaves about 100,000 objects that live as long as the process (the price catalog,
    pydantic's schemas, chDB's bindings); frozen, no collection walks them again. A batch of
    2,000 events then allocates some 40,000 objects that all live until it is stored, which
    the default thresholds would walk dozens of times. Refcounting still frees everything that
    is not in a cycle at once.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, OLDER_THRESHOLD, OLDER_THRESHOLD)
