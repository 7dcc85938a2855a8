"""Apply the numbered SQL files in `migrations/` once each, in order, recording each version."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources
from string import Template
from typing import Any

log = logging.getLogger(__name__)

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


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


def apply_migrations(
    client: Any, database: str, retention_days: int, audit_retention_days: int = 400
) -> list[int]:
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
        statements = migration.statements(
            database=database,
            retention_days=retention_days,
            audit_retention_days=audit_retention_days,
        )
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
