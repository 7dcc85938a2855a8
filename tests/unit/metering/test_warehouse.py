from __future__ import annotations

from pathlib import Path

import pytest

from tollway_metering.warehouse import chdb_path


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
