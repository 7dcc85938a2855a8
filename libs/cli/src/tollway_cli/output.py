"""How read commands print (pure): `--output json` is the admin API's answer as it came, for
scripts; `--output table` lays rows out in aligned columns, or one record as labelled facts,
for people."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

FORMATS = ("table", "json")
EMPTY = "-"


@dataclass(frozen=True)
class Column:
    """One column of a table: its header and how a row (a JSON object) gives the cell."""

    header: str
    cell: Callable[[Mapping[str, Any]], object]


def field(header: str, name: str) -> Column:
    return Column(header, lambda row: row.get(name))


def as_json(result: object) -> str:
    return json.dumps(result, indent=2, sort_keys=False)


def text(value: object) -> str:
    """A cell: nothing as `-`, floats rounded, lists joined, objects as compact JSON."""
    if value is None or value == "" or value == []:
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, list):
        return ", ".join(text(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return " ".join(str(value).split())  # one line per row, whatever the value holds


def utc(millis: object) -> str:
    """Unix milliseconds as `YYYY-MM-DD HH:MM:SS` UTC; 0 or nothing as `-`."""
    if not isinstance(millis, int | float) or millis <= 0:
        return EMPTY
    return datetime.fromtimestamp(millis / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def utc_seconds(seconds: object) -> str:
    return utc(seconds * 1000) if isinstance(seconds, int | float) else EMPTY


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> str:
    """Rows under their headers, columns padded to their widest cell, two spaces apart."""
    cells = [[text(column.cell(row)) for column in columns] for row in rows]
    headers = [column.header for column in columns]
    widths = [max(len(line[i]) for line in [headers, *cells]) for i in range(len(columns))]
    lines = [
        "  ".join(value.ljust(width) for value, width in zip(line, widths, strict=True)).rstrip()
        for line in [headers, *cells]
    ]
    return "\n".join(lines) + "\n"


def facts(pairs: Sequence[tuple[str, object]]) -> str:
    """One record as `label: value` lines, labels aligned."""
    width = max((len(label) for label, _ in pairs), default=0)
    return "".join(f"{(label + ':').ljust(width + 1)} {text(value)}\n" for label, value in pairs)


def record_facts(record: Mapping[str, Any]) -> str:
    """Every field of a record, in the API's order, as facts."""
    return facts(list(record.items()))
