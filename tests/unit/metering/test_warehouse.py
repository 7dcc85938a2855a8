from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from tests.support.child_process import child_result

from tollway_metering.warehouse import batch_columns, chdb_options, chdb_path


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("chdb:///var/lib/tollway/ch", Path("/var/lib/tollway/ch")),
        ("chdb://.tollway/clickhouse", Path("/srv/app/.tollway/clickhouse")),
        ("chdb://data/ch?x=1", Path("/srv/app/data/ch")),
        ("chdb://memory", None),
        ("chdb://", None),
    ],
)
def test_chdb_path_resolves_relative_paths_from_the_working_directory(
    dsn: str, expected: Path | None
) -> None:
    assert chdb_path(dsn, cwd=Path("/srv/app")) == expected


def test_batch_columns_turns_rows_into_columns() -> None:
    assert batch_columns([[1, "a", None], [2, "b", 0.5]]) == [(1, 2), ("a", "b"), (None, 0.5)]


def test_batch_columns_refuses_rows_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="shorter"):
        batch_columns([[1, "a"], [2]])


def test_chdb_gets_gateway_sized_caches_and_the_memory_limit() -> None:
    options = chdb_options(memory_limit_mib=256)

    assert options["max_server_memory_usage"] == 256 << 20
    # chDB's own defaults are 5 GiB each: nothing here is above a few tens of MiB.
    caches = {name: size for name, size in options.items() if name.endswith("cache_size")}
    assert caches
    assert max(caches.values()) <= 64 << 20


# One chDB engine per process, and the test process must not keep one: the warehouse runs in a
# child that inserts two batches of usage (the second through the same insert context) and
# one of audit events, then prints what it reads back and the engine's settings.
_ROUND_TRIP = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from decimal import Decimal
    from tollway_common.contract import (
        AnalyticsQuery, AuditActor, AuditEvent, AuditQuery, Endpoint, Principal, UsageEvent,
    )
    from tollway_metering.charges import UNPRICED, Charge
    from tollway_metering.migrations import Retention
    from tollway_metering.warehouse import Warehouse

    NOW_MS = int(time.time() * 1000)  # rows past the table's retention would be dropped

    def event(index):
        return UsageEvent(
            request_id=f"req-{index:03}", received_at_ms=NOW_MS + index,
            endpoint=Endpoint.CHAT_COMPLETIONS, principal=Principal(key_id="k1", org_id="o1"),
            model_alias="m", provider="openai", status_code=200, prompt_tokens=index,
            completion_tokens=1, total_tokens=index + 1, latency_ms=1.5,
            ttft_ms=None if index % 2 else 0.25, attempts=["d1", "d2"][: index % 3],
        )

    async def main(dsn):
        store = await Warehouse.open(dsn, "tollway", chdb_memory_limit_mib=300)
        await store.migrate(Retention())
        priced = Charge(Decimal("0.000000123"), "USD", "v1", False)
        for first in (0, 3):
            events = [event(i) for i in range(first, first + 3)]
            await store.insert_usage(events, [priced, UNPRICED, priced])
        actor = AuditActor(kind="user", id="u1", roles=["admin"])
        await store.insert_audit([
            AuditEvent(event_id="a1", at_ms=NOW_MS, actor=actor, action="create",
                       resource_type="key", resource_id="k1", after={"name": "ci"}),
        ])
        rows = await store.query_usage(AnalyticsQuery())
        audit = await store.audit(AuditQuery())
        settings = store._client.query(
            "SELECT name, value FROM system.server_settings "
            "WHERE name IN ('mark_cache_size', 'max_server_memory_usage')"
        ).result_rows
        await store.close()
        print(json.dumps({
            "usage": [r.model_dump(mode="json") for r in rows],
            "audit": [a.model_dump(mode="json") for a in audit],
            "settings": dict(settings),
        }))

    asyncio.run(main(sys.argv[1]))
    """
)


def test_batches_go_in_as_columns_and_come_back_as_they_went_in(tmp_path: Path) -> None:
    read = child_result(_ROUND_TRIP, f"chdb://{tmp_path / 'ch'}")

    usage = read["usage"]
    assert [row["request_id"] for row in usage] == [f"req-{i:03}" for i in range(6)]
    assert [row["prompt_tokens"] for row in usage] == list(range(6))
    assert [row["cost"] for row in usage] == ["0.000000123", "0", "0.000000123"] * 2
    assert [row["unpriced"] for row in usage] == [False, True, False] * 2
    assert [row["ttft_ms"] for row in usage] == [0.25, None] * 3
    assert [row["attempts"] for row in usage] == [[], ["d1"], ["d1", "d2"]] * 2
    assert [(a["event_id"], a["after"]) for a in read["audit"]] == [("a1", {"name": "ci"})]
    assert read["settings"] == {
        "mark_cache_size": str(64 << 20),
        "max_server_memory_usage": str(300 << 20),
    }
