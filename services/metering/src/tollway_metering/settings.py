"""Metering process settings (`TOLLWAY_METERING_*`, nested with `__`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tollway_common.settings import LogSettings, MonitorSettings, NatsSettings


class MeteringSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TOLLWAY_METERING_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    nats: NatsSettings = NatsSettings()
    log: LogSettings = LogSettings()
    # /healthz, /readyz and /metrics over HTTP (TOLLWAY_METERING_MONITOR__ENABLED, __HOST, __PORT).
    monitor: MonitorSettings = MonitorSettings()
    # `chdb://<path>` opens embedded chDB in that folder (created if missing; a relative path is
    # taken from the working directory, `chdb:///abs/path` is absolute); `http(s)://...` talks
    # to a ClickHouse server.
    clickhouse_dsn: str = "chdb://.tollway/clickhouse"
    # The DSN read from a file at start instead (compose writes one with its generated password).
    clickhouse_dsn_file: Path | None = None
    # Embedded chDB's ceiling on the memory it tracks (queries, inserts, merges; its binary and
    # Python are outside it): a query that would pass it fails instead of growing metering.
    chdb_memory_limit_mib: int = Field(default=1024, ge=64)
    # Price an alias the operator has not priced from the built-in catalog (genai-prices) by
    # the model its upstream answered with; off: such usage is unpriced until priced in admin.
    price_catalog: bool = True
    database: str = Field(default="tollway", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    # An insert costs chDB about as much for one row as for a few thousand (a part written per
    # table and rollup, merged later), so batches are large and few (docs/bench.md, "Metering").
    batch_size: int = Field(default=2000, ge=1)
    fetch_timeout_s: float = Field(default=1.0, gt=0)
    # The longest an event waits in metering before its batch is inserted.
    flush_interval_s: float = Field(default=2.0, ge=0)
    ack_wait_s: float = Field(default=30.0, gt=0)
    max_deliver: int = Field(default=20, ge=1)
    # Applied when the table is first created; changing it later needs a new migration.
    retention_days: int = Field(default=400, ge=1)
    # How long control-plane changes (and alerts) are kept.
    audit_retention_days: int = Field(default=400, ge=1)
    # How long logged request and response bodies are kept; applied at every start, so a
    # shorter value reaches bodies already stored.
    body_retention_days: int = Field(default=30, ge=1)
    # Test-only fault injection: exit with status 17 right after the first successful insert
    # and before any ack, so a test can prove a crash there neither loses nor doubles events.
    fault_exit_after_insert: bool = False

    def warehouse_dsn(self) -> str:
        if self.clickhouse_dsn_file is not None:
            return self.clickhouse_dsn_file.read_text().strip()
        return self.clickhouse_dsn
