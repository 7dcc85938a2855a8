"""The usage warehouse: chDB (embedded) or a ClickHouse server behind one small async interface."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import clickhouse_connect
import orjson
from clickhouse_connect.driver.insert import InsertContext

from tollway_common.contract import (
    Alert,
    AnalyticsQuery,
    AuditActor,
    AuditEvent,
    AuditQuery,
    BodyEvent,
    BodyQuery,
    RequestDetailQuery,
    RequestDetailReply,
    RequestLogQuery,
    SummaryQuery,
    SummaryRow,
    UsageEvent,
    UsageRow,
)
from tollway_metering.charges import Charge
from tollway_metering.migrations import Retention, apply_body_retention, apply_migrations
from tollway_metering.queries import audit_sql, stored_rows_sql, summary_sql, usage_where
from tollway_metering.reconcile import Plan, plan
from tollway_metering.request_log import (
    request_bodies_sql,
    request_detail_sql,
    request_log_sql,
    to_request_records,
)
from tollway_metering.rows import (
    ALERT_COLUMNS,
    AUDIT_COLUMNS,
    BODY_COLUMNS,
    BODY_SELECT,
    RETRACTION_COLUMNS,
    USAGE_COLUMNS,
    USAGE_INDEX,
    USAGE_ROW_SELECT,
    alert_row,
    audit_row,
    body_row,
    to_body_event,
    to_usage_row,
)

_CHDB_SCHEME = "chdb:"
_IN_MEMORY = ("", "memory", ":memory:")
MAX_QUERY_ROWS = 100_000
# chDB defaults to async_insert=1; we want the rows stored when insert() returns.
_INSERT_SETTINGS = {"async_insert": 0}
_MIB = 1 << 20
DEFAULT_CHDB_MEMORY_LIMIT_MIB = 1024
# chDB starts with a warehouse's defaults: 5 GiB for each of the mark, primary index and index
# mark caches, 128 MiB of compiled expressions, a memory limit of 90 % of the machine's RAM and
# a thousand idle threads kept. Metering writes small batches and answers a few analytics
# queries beside a gateway, so the caches are sized for that (docs/bench.md, "Metering").
CHDB_SERVER_SETTINGS: dict[str, int] = {
    "mark_cache_size": 64 * _MIB,
    "index_mark_cache_size": 16 * _MIB,
    "primary_index_cache_size": 16 * _MIB,
    "skipping_index_cache_size": 8 * _MIB,
    "vector_similarity_index_cache_size": 1 * _MIB,
    "compiled_expression_cache_size": 16 * _MIB,
    "query_condition_cache_size": 8 * _MIB,
    # How often chDB reads the process's RSS (left to itself, many times a second: the largest
    # part of what an idle metering spent).
    "memory_worker_period_ms": 1000,
    # Session settings of metering's connection: analytics queries use two threads at most,
    # an insert (a batch of a few thousand rows) one.
    "max_threads": 2,
    "max_insert_threads": 1,
    # Read a part's marks in the query's own thread. chDB's default loads them asynchronously,
    # one job per column file on a pool of up to 50 threads taken from the global pool: the
    # first reads of wide parts (merged parts over 10 MiB) start dozens of threads at once, and
    # the global pool then keeps them idle for good (chDB does not apply its size settings),
    # each opening three /proc/self/task/<tid> files when it next runs query work
    # (docs/soak.md). The marks stay in the mark cache either way.
    "load_marks_asynchronously": 0,
}


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


class WarehouseNotConfigured(RuntimeError):
    """A DSN metering cannot open as configured: a setting to change, not a crash."""


class DsnMissing(WarehouseNotConfigured):
    """No DSN at all (the default image sets none: it has no ClickHouse to point at)."""


class ChdbMissing(WarehouseNotConfigured):
    """A `chdb://` DSN where chDB is not installed (the images leave it out)."""


def require_chdb() -> None:
    try:
        import chdb  # noqa: F401
    except ImportError:
        raise ChdbMissing(
            "TOLLWAY_METERING_CLICKHOUSE_DSN names embedded chDB (chdb://), which is not "
            "installed here: point it at a ClickHouse server (http://user:password@host:8123), "
            "or install tollway-metering[chdb] (images: build with --build-arg EXTRAS=chdb)"
        ) from None


def chdb_options(memory_limit_mib: int = DEFAULT_CHDB_MEMORY_LIMIT_MIB) -> dict[str, int]:
    """chDB's start-up settings: gateway-sized caches and a ceiling on its tracked memory."""
    return {**CHDB_SERVER_SETTINGS, "max_server_memory_usage": memory_limit_mib * _MIB}


def open_client(dsn: str, chdb_memory_limit_mib: int = DEFAULT_CHDB_MEMORY_LIMIT_MIB) -> Any:
    """Blocking: a clickhouse-connect sync client (chDB allows no async client).

    A ClickHouse server keeps its own configuration; embedded chDB gets `chdb_options`.
    """
    if not dsn.strip():
        raise DsnMissing(
            "TOLLWAY_METERING_CLICKHOUSE_DSN is empty: point it at a ClickHouse server "
            "(http://user:password@host:8123), or at embedded chDB (chdb:///path) where "
            "tollway-metering[chdb] is installed (images: build with --build-arg EXTRAS=chdb)"
        )
    if not is_chdb(dsn):
        return clickhouse_connect.get_client(dsn=dsn)
    require_chdb()
    options = chdb_options(chdb_memory_limit_mib)
    path = chdb_path(dsn)
    if path is None:
        return clickhouse_connect.get_client(interface="chdb", chdb_options=options)
    path.mkdir(parents=True, exist_ok=True)
    return clickhouse_connect.get_client(interface="chdb", path=str(path), chdb_options=options)


def _plain_decimal(text: str) -> str:
    """ClickHouse prints Decimal sums like `1.230000000`; keep them exact, drop the padding."""
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def batch_columns(rows: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
    """Rows -> one sequence per column, the form the insert sends (Native is columnar)."""
    return list(zip(*rows, strict=True))


class Warehouse:
    """Insert and read usage rows. Calls run in a worker thread: the client is blocking."""

    def __init__(self, client: Any, database: str) -> None:
        self._client = client
        self._database = database
        self._table = f"{database}.usage_requests"
        self._contexts: dict[str, InsertContext] = {}

    @classmethod
    async def open(
        cls, dsn: str, database: str, chdb_memory_limit_mib: int = DEFAULT_CHDB_MEMORY_LIMIT_MIB
    ) -> Warehouse:
        return cls(await asyncio.to_thread(open_client, dsn, chdb_memory_limit_mib), database)

    async def migrate(self, retention: Retention) -> list[int]:
        applied = await asyncio.to_thread(apply_migrations, self._client, self._database, retention)
        await asyncio.to_thread(
            apply_body_retention, self._client, self._database, retention.body_days
        )
        return applied

    async def insert_usage(self, events: Sequence[UsageEvent], charges: Sequence[Charge]) -> Plan:
        """Write what the batch adds to the rows stored for its requests (reconcile.py): a
        redelivered event writes nothing, a late one merges, a replaced row is retracted."""
        if not events:
            return Plan()
        return await asyncio.to_thread(self._write_usage, events, charges)

    def _write_usage(self, events: Sequence[UsageEvent], charges: Sequence[Charge]) -> Plan:
        sql, parameters = stored_rows_sql(self._table, USAGE_COLUMNS, events)
        rows = self._client.query(sql, parameters=parameters).result_rows
        stored = {row[USAGE_INDEX["request_id"]]: row for row in rows}
        written = plan(events, charges, stored)
        # The rows first: a crash before the retractions leaves a replaced row counted in the
        # rollups (as before this existed), never a row subtracted twice.
        if written.rows:
            self._insert_columns("usage_requests", written.rows, USAGE_COLUMNS)
        if written.retractions:
            self._insert_columns("usage_retractions", written.retractions, RETRACTION_COLUMNS)
        return written

    async def insert_audit(self, events: Sequence[AuditEvent]) -> None:
        await self._insert("audit_events", [audit_row(event) for event in events], AUDIT_COLUMNS)

    async def insert_bodies(self, events: Sequence[BodyEvent]) -> None:
        await self._insert("request_bodies", [body_row(event) for event in events], BODY_COLUMNS)

    async def insert_alerts(self, alerts: Sequence[Alert]) -> None:
        await self._insert("alerts", [alert_row(alert) for alert in alerts], ALERT_COLUMNS)

    async def _insert(self, table: str, rows: list[list[Any]], columns: Sequence[str]) -> None:
        if rows:
            await asyncio.to_thread(self._insert_columns, table, rows, columns)

    def _insert_columns(self, table: str, rows: list[list[Any]], columns: Sequence[str]) -> None:
        """Blocking: one insert of the batch as columns, through the table's insert context.

        The context is made once per table (clickhouse-connect asks the table for its column
        types then, not again for every batch); each feed inserts one batch at a time, so a
        context is never shared by two inserts at once.
        """
        context = self._contexts.get(table)
        if context is None:
            context = self._client.create_insert_context(
                f"{self._database}.{table}",
                column_names=list(columns),
                column_oriented=True,
                settings=_INSERT_SETTINGS,
            )
            self._contexts[table] = context
        self._client.insert(data=batch_columns(rows), context=context)

    async def query_bodies(self, query: BodyQuery) -> list[BodyEvent]:
        sql = (
            f"SELECT {', '.join(BODY_SELECT)} FROM {self._database}.request_bodies FINAL "
            "WHERE request_id IN {ids:Array(String)} ORDER BY received_at, request_id "
            "LIMIT {limit:UInt32}"
        )
        parameters = {
            "ids": list(query.request_ids),
            "limit": max(0, min(query.limit, MAX_QUERY_ROWS)),
        }
        result = await asyncio.to_thread(self._client.query, sql, parameters=parameters)
        return [to_body_event(values) for values in result.result_rows]

    async def query_usage(self, query: AnalyticsQuery) -> list[UsageRow]:
        # FINAL collapses the copies a redelivery inserted, so no request counts twice.
        sql = f"SELECT {', '.join(USAGE_ROW_SELECT)} FROM {self._table} FINAL"
        parameters: dict[str, Any] = {"limit": max(0, min(query.limit, MAX_QUERY_ROWS))}
        where = usage_where(query.filter, parameters)
        if query.request_ids:
            where.append("request_id IN {ids:Array(String)}")
            parameters["ids"] = list(query.request_ids)
        if query.after_ms or query.after_request_id:
            where.append(
                "(received_at, request_id) > "
                "(fromUnixTimestamp64Milli({after_ms:Int64}, 'UTC'), {after_id:String})"
            )
            parameters.update(after_ms=query.after_ms, after_id=query.after_request_id)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY received_at, request_id LIMIT {limit:UInt32}"
        result = await asyncio.to_thread(self._client.query, sql, parameters=parameters)
        return [to_usage_row(values) for values in result.result_rows]

    async def request_log(self, query: RequestLogQuery) -> list[UsageRow]:
        sql, parameters = request_log_sql(self._table, query)
        result = await asyncio.to_thread(self._client.query, sql, parameters=parameters)
        return [to_usage_row(values) for values in result.result_rows]

    async def request_detail(self, query: RequestDetailQuery) -> RequestDetailReply:
        sql, parameters = request_detail_sql(self._table, query)
        result = await asyncio.to_thread(self._client.query, sql, parameters=parameters)
        records = to_request_records(result.result_rows)
        sql, parameters = request_bodies_sql(f"{self._database}.request_bodies", query)
        result = await asyncio.to_thread(self._client.query, sql, parameters=parameters)
        bodies = [to_body_event(values) for values in result.result_rows]
        return RequestDetailReply(records=records, bodies=bodies)

    async def summary(self, query: SummaryQuery) -> list[SummaryRow]:
        sql, parameters = summary_sql(self._table, query)
        result = await asyncio.to_thread(self._client.query, sql, parameters=parameters)
        rows = []
        for values in result.result_rows:
            (
                bucket_ms,
                group,
                requests,
                errors,
                prompt,
                completion,
                cached,
                cost,
                currency,
                unpriced,
                latency,
                ttft,
                with_ttft,
            ) = values
            rows.append(
                SummaryRow(
                    bucket_ms=int(bucket_ms),
                    group=str(group),
                    requests=int(requests),
                    errors=int(errors),
                    prompt_tokens=int(prompt),
                    completion_tokens=int(completion),
                    cached_read_tokens=int(cached),
                    cost=_plain_decimal(cost),
                    currency=str(currency),
                    unpriced_requests=int(unpriced),
                    latency_p50_ms=float(latency[0]),
                    latency_p95_ms=float(latency[1]),
                    latency_p99_ms=float(latency[2]),
                    ttft_p50_ms=float(ttft[0]) if with_ttft else None,
                    ttft_p95_ms=float(ttft[1]) if with_ttft else None,
                    ttft_p99_ms=float(ttft[2]) if with_ttft else None,
                )
            )
        return rows

    async def audit(self, query: AuditQuery) -> list[AuditEvent]:
        sql, parameters = audit_sql(f"{self._database}.audit_events", query)
        result = await asyncio.to_thread(self._client.query, sql, parameters=parameters)
        return [
            AuditEvent(
                event_id=event_id,
                at_ms=int(at_ms),
                actor=AuditActor(kind=kind, id=actor_id, roles=list(roles)),
                action=action,
                resource_type=resource_type,
                resource_id=resource_id,
                before=orjson.loads(before) if before else None,
                after=orjson.loads(after) if after else None,
            )
            for (
                event_id,
                at_ms,
                kind,
                actor_id,
                roles,
                action,
                resource_type,
                resource_id,
                before,
                after,
            ) in result.result_rows
        ]

    async def ping(self) -> None:
        await asyncio.to_thread(self._client.query, "SELECT 1")

    async def close(self) -> None:
        await asyncio.to_thread(self._client.close)
