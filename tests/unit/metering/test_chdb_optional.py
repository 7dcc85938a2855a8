"""chDB is an optional extra of tollway-metering: a `chdb://` DSN without it is refused with a
message that says what to set, before anything else starts; a server DSN never needs it. No DSN
at all (the default image's) is refused the same way."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tollway_metering.warehouse import ChdbMissing, DsnMissing, open_client, require_chdb


def test_a_chdb_dsn_without_chdb_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "chdb", None)  # as where it is not installed
    with pytest.raises(ChdbMissing, match=r"ClickHouse server .*tollway-metering\[chdb\]"):
        open_client("chdb:///tmp/never-made")


@pytest.mark.parametrize("dsn", ["", "  "])
def test_an_empty_dsn_says_what_to_set(dsn: str) -> None:
    with pytest.raises(DsnMissing, match=r"is empty: point it at a ClickHouse server"):
        open_client(dsn)


def test_chdb_is_found_where_it_is_installed() -> None:
    require_chdb()  # the development environment has the extra (through tollway-cli)


@pytest.mark.parametrize(
    ("dsn", "said"),
    [("chdb:///tmp/never-made", "names embedded chDB"), ("", "is empty")],
    ids=["chdb-missing", "no-dsn"],
)
def test_the_metering_process_exits_with_that_message(dsn: str, said: str) -> None:
    """The process: one log line and exit status 2, not a traceback."""
    script = (
        "import sys; sys.modules['chdb'] = None\n"
        "from tollway_metering.__main__ import main\n"
        "main()\n"
    )
    env = {
        "TOLLWAY_METERING_CLICKHOUSE_DSN": dsn,
        "TOLLWAY_METERING_LOG__JSON_FORMAT": "false",
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, result.stderr
    assert said in result.stdout + result.stderr
    assert "point it at a ClickHouse server" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
