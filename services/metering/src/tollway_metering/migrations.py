"""Apply the numbered SQL files in `migrations/` once each, in order, recording each version."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources
from string import Template
from typing import Any

log = logging.getLogger(__name__)

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql\Z")
_TTL_DAYS = re.compile(r"\bTTL\b.*?toIntervalDay\((\d+)\)")


@dataclass(frozen=True)
class Retention:
    """Days each table keeps its rows; the migrations' `${..._days}` placeholders."""

    usage_days: int = 400
    audit_days: int = 400
    body_days: int = 30

    def values(self) -> dict[str, int]:
        return {
            "retention_days": self.usage_days,
            "audit_retention_days": self.audit_days,
            "body_retention_days": self.body_days,
        }


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    def statements(self, **values: str | int) -> list[str]:
        """The file's statements with `${name}` placeholders filled in, comments dropped."""
        text = Template(self.sql).substitute(values)
        lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
        return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]


def load_migrations() -> list[Migration]:
    folder = resources.files("tollway_metering") / "migrations"
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text()))
    found.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration versions: {versions}")
    return found


def apply_migrations(client: Any, database: str, retention: Retention) -> list[int]:
    """Blocking: create the database and apply what is missing; returns the versions applied.

    Every statement is `IF NOT EXISTS`, so two instances racing at start do no harm.
    """
    client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    client.command(
        f"CREATE TABLE IF NOT EXISTS {database}.schema_migrations "
        "(version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
        "ENGINE = ReplacingMergeTree(applied_at) ORDER BY version"
    )
    done = {
        int(row[0])
        for row in client.query(f"SELECT version FROM {database}.schema_migrations").result_rows
    }
    applied: list[int] = []
    for migration in load_migrations():
        if migration.version in done:
            continue
        statements = migration.statements(database=database, **retention.values())
        for statement in statements:
            client.command(statement)
        client.insert(
            f"{database}.schema_migrations",
            [[migration.version, migration.name]],
            column_names=["version", "name"],
            settings={"async_insert": 0},
        )
        log.info(
            "migration applied", extra={"version": migration.version, "migration": migration.name}
        )
        applied.append(migration.version)
    return applied


def apply_body_retention(client: Any, database: str, days: int) -> bool:
    """Blocking: give `request_bodies` the TTL of `days` if it has another; True if changed.

    Bodies are personal data, so a shorter retention must reach rows already stored, not only
    a table created later (ClickHouse then drops the expired parts in the background).
    """
    engine = client.command(
        "SELECT engine_full FROM system.tables WHERE database = {db:String} "
        "AND name = 'request_bodies'",
        parameters={"db": database},
    )
    match = _TTL_DAYS.search(str(engine))
    if match is not None and int(match.group(1)) == days:
        return False
    client.command(
        f"ALTER TABLE {database}.request_bodies MODIFY TTL "
        f"toDateTime(received_at) + INTERVAL {int(days)} DAY DELETE"
    )
    log.info("body retention changed", extra={"days": days})
    return True
