"""Metering's embedded chDB keeps its thread count, and so its descriptors, bounded: reading
wide parts (what merges make of a busy table) does not start a burst of pool threads that the
global pool then keeps idle, each holding three /proc/self/task/<tid> files once it runs query
work (docs/soak.md, "What bounds metering's threads")."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

# Threads chDB may add while the warehouse reads and writes wide parts. With marks loaded
# asynchronously (chDB's default) the first reads below add 40-60.
_MAX_ADDED_THREADS = 8

# One chDB engine per process, and the test process must not keep one: the warehouse runs in a
# child, with metering's own settings (Warehouse.open). Every part of usage_requests is made
# wide, as merged parts over 10 MiB are in production, then usage is written (each insert
# reads the stored rows of its request ids first) and read back with FINAL.
_CHILD = textwrap.dedent(
    """
    import asyncio, json, os, sys, time
    from tollway_common.contract import AnalyticsQuery, Endpoint, Principal, UsageEvent
    from tollway_metering.charges import UNPRICED
    from tollway_metering.migrations import Retention
    from tollway_metering.warehouse import Warehouse

    NOW_MS = int(time.time() * 1000)

    def event(index):
        return UsageEvent(
            request_id=f"req-{index:05}", received_at_ms=NOW_MS + index,
            endpoint=Endpoint.CHAT_COMPLETIONS,
            principal=Principal(key_id=f"k{index % 7}", org_id=f"o{index % 3}"),
            model_alias="m", provider="openai", status_code=200, prompt_tokens=index,
            completion_tokens=1, total_tokens=index + 1, latency_ms=1.5,
        )

    def threads():
        return len(os.listdir("/proc/self/task"))

    async def main(dsn):
        store = await Warehouse.open(dsn, "tollway")
        await store.migrate(Retention())
        client = store._client
        client.command("ALTER TABLE tollway.usage_requests MODIFY SETTING min_bytes_for_wide_part = 0")
        await store.insert_usage([event(i) for i in range(300)], [UNPRICED] * 300)
        before = threads()
        for first in range(300, 1500, 300):
            await store.insert_usage([event(i) for i in range(first, first + 300)], [UNPRICED] * 300)
            await store.query_usage(AnalyticsQuery(limit=50))
        after = threads()
        parts = client.query(
            "SELECT DISTINCT part_type FROM system.parts "
            "WHERE database = 'tollway' AND table = 'usage_requests' AND active"
        ).result_rows
        setting = client.query(
            "SELECT value FROM system.settings WHERE name = 'load_marks_asynchronously'"
        ).result_rows
        await store.close()
        print(json.dumps({
            "before": before, "after": after,
            "part_types": sorted(row[0] for row in parts),
            "load_marks_asynchronously": setting[0][0],
        }))

    asyncio.run(main(sys.argv[1]))
    """
)


def test_reading_wide_parts_starts_no_burst_of_chdb_threads(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, f"chdb://{tmp_path / 'ch'}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])

    assert seen["load_marks_asynchronously"] == "0"
    assert seen["part_types"] == ["Wide"]
    assert seen["after"] - seen["before"] <= _MAX_ADDED_THREADS, seen
