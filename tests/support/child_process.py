"""Run a Python script in a child process (chDB wants one process per data folder, and a fresh
one shows what a starting service sees) and read the JSON object it prints last."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any


def child_result(script: str, *args: str, timeout_s: float = 120) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return found
