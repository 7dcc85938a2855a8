"""Read a chDB data folder that no process holds (metering stopped), from a child process:
a process can open one chDB engine only, and the test process must not keep one."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from chdb import session
    path, sql = sys.argv[1], sys.argv[2]
    result = session.Session(path).query(sql, "JSONCompact")
    print(json.dumps(json.loads(result.bytes())["data"]))
    """
)


def query_folder(path: Path, sql: str) -> list[list[Any]]:
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(path), sql],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows: list[list[Any]] = json.loads(result.stdout)
    return rows
