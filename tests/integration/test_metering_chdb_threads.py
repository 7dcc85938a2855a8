"""Metering's embedded chDB keeps its thread count, and so its descriptors, bounded. Two
things started bursts of pool threads that chDB's global pool then keeps idle for good, each
holding three /proc/self/task/<tid> files once it runs query work (docs/soak.md, "What bounds
metering's threads"): the first reads of wide parts (marks loaded asynchronously, a job per
column file) and the removal of 100 or more outdated parts at once (a pool of up to 128).
The first is measured here; the second takes a cleanup period to show, so the test checks
that every MergeTree table of metering removes its parts serially (but schema_migrations,
which gets a part per migration applied)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.support.child_process import child_result

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
        client.command(
            "ALTER TABLE tollway.usage_requests MODIFY SETTING min_bytes_for_wide_part = 0"
        )
        batch = [UNPRICED] * 300
        await store.insert_usage([event(i) for i in range(300)], batch)
        before = threads()
        for first in range(300, 1500, 300):
            await store.insert_usage([event(i) for i in range(first, first + 300)], batch)
            await store.query_usage(AnalyticsQuery(limit=50))
        after = threads()
        parts = client.query(
            "SELECT DISTINCT part_type FROM system.parts "
            "WHERE database = 'tollway' AND table = 'usage_requests' AND active"
        ).result_rows
        setting = client.query(
            "SELECT value FROM system.settings WHERE name = 'load_marks_asynchronously'"
        ).result_rows
        parallel_removal = client.query(
            "SELECT name FROM system.tables WHERE database = 'tollway' "
            "AND engine LIKE '%MergeTree' AND name != 'schema_migrations' "
            "AND engine_full NOT LIKE '%concurrent_part_removal_threshold = 1000000%'"
        ).result_rows
        await store.close()
        print(json.dumps({
            "before": before, "after": after,
            "part_types": sorted(row[0] for row in parts),
            "load_marks_asynchronously": setting[0][0],
            "parallel_part_removal": sorted(row[0] for row in parallel_removal),
        }))

    asyncio.run(main(sys.argv[1]))
    """
)


def test_metering_chdb_starts_no_burst_of_pool_threads(tmp_path: Path) -> None:
    seen = child_result(_CHILD, f"chdb://{tmp_path / 'ch'}")

    assert seen["load_marks_asynchronously"] == "0"
    assert seen["parallel_part_removal"] == []
    assert seen["part_types"] == ["Wide"]
    assert seen["after"] - seen["before"] <= _MAX_ADDED_THREADS, seen
