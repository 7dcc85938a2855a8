"""The usage warehouse: chDB (embedded) or a ClickHouse server behind one small async interface."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import clickhouse_connect

from tollway_common.contract import AnalyticsQuery, UsageEvent, UsageRow
from tollway_metering.migrations import apply_migrations
from tollway_metering.rows import USAGE_COLUMNS, USAGE_ROW_SELECT, to_usage_row, usage_rows

_CHDB_SCHEME = "chdb:"
_IN_MEMORY = ("", "memory", ":memory:")
MAX_QUERY_ROWS = 100_000
# chDB defaults to async_insert=1; we want the rows stored when insert() returns.
_INSERT_SETTINGS = {"async_insert": 0}


def chdb_path(dsn: str, cwd: Path | None = None) -> Path | None:
    """The data folder a `chdb://<path>` DSN names (relative to `cwd`), or None for in-memory.

    clickhouse-connect's own parsing would read `chdb://.tollway/ch` as host `.tollway`, so
    chDB DSNs are resolved here: everything after `chdb://` is the path.
    """
    raw = dsn.removeprefix(_CHDB_SCHEME).removeprefix("//").split("?", 1)[0]
    if raw in _IN_MEMORY:
        return None
    path = Path(raw).expanduser()
    return path if path.is_absolute() else (cwd or Path.cwd()) / path


def is_chdb(dsn: str) -> bool:
    return dsn.startswith(_CHDB_SCHEME)


def open_client(dsn: str) -> Any:
    """Blocking: a clickhouse-connect sync client (chDB allows no async client)."""
    if not is_chdb(dsn):
        return clickhouse_connect.get_client(dsn=dsn)
    path = chdb_path(dsn)
    if path is None:
        return clickhouse_connect.get_client(interface="chdb")
    path.mkdir(parents=True, exist_ok=True)
    return clickhouse_connect.get_client(interface="chdb", path=str(path))


class Warehouse:
    """Insert and read usage rows. Calls run in a worker thread: the client is blocking."""

    def __init__(self, client: Any, database: str) -> None:
        self._client = client
        self._database = database
        self._table = f"{database}.usage_requests"

    @classmethod
    async def open(cls, dsn: str, database: str) -> Warehouse:
        return cls(await asyncio.to_thread(open_client, dsn), database)

    async def migrate(self, retention_days: int) -> list[int]:
        return await asyncio.to_thread(
            apply_migrations, self._client, self._database, retention_days
        )

    async def insert_usage(self, events: Sequence[UsageEvent]) -> None:
        if not events:
            return
        await asyncio.to_thread(
            self._client.insert,
            self._table,
            usage_rows(events),
            column_names=list(USAGE_COLUMNS),
            settings=_INSERT_SETTINGS,
        )

    async def query_usage(self, query: AnalyticsQuery) -> list[UsageRow]:
        # FINAL collapses the copies a redelivery inserted, so no request counts twice.
        sql = f"SELECT {', '.join(USAGE_ROW_SELECT)} FROM {self._table} FINAL"
        parameters: dict[str, Any] = {"limit": max(0, min(query.limit, MAX_QUERY_ROWS))}
        if query.request_ids:
            sql += " WHERE request_id IN {ids:Array(String)}"
            parameters["ids"] = list(query.request_ids)
        sql += " ORDER BY received_at, request_id LIMIT {limit:UInt32}"
        result = await asyncio.to_thread(self._client.query, sql, parameters=parameters)
        return [to_usage_row(values) for values in result.result_rows]

    async def close(self) -> None:
        await asyncio.to_thread(self._client.close)
