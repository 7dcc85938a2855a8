"""`tollway apply / export / keys` against a running admin: declarative, GitOps friendly, and
a key secret never leaves the machine that applies it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import yaml
from tests.support.stack import Stack

from tollway_common.control import hash_key

ADMIN_TOKEN = "tw-admin-cli-test-0123456789"
APP_KEY = "sk-tollway-cli-applied-0123456789abcdef"
DOC = """
orgs:
  - {org_id: acme, name: Acme}
teams:
  - {team_id: ml, org_id: acme, name: ML}
models:
  - name: cli-model
    deployments: [{name: cli-fake, provider: fake, model: cli-1}]
prices:
  - {model: cli-model, input_per_mtok: "0.15", output_per_mtok: "0.60"}
keys:
  - {name: cli-app, secret: "env:CLI_TEST_APP_KEY", team_id: ml, org_id: acme, models: [cli-model]}
"""


def _tollway(
    admin_url: str, *args: str, token: str = ADMIN_TOKEN
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tollway_cli", *args, "--admin-url", admin_url],
        env={**os.environ, "TOLLWAY_ADMIN_TOKEN": token, "CLI_TEST_APP_KEY": APP_KEY},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


async def test_apply_export_and_key_commands(stack: Stack, tmp_path: Path) -> None:
    admin_url = stack.start_admin(ADMIN_TOKEN)
    document = tmp_path / "tollway.yaml"
    document.write_text(DOC)
    applied = _json(_tollway(admin_url, "apply", "-f", str(document)))
    assert "key cli-app" in " ".join(applied["created"])
    assert "model cli-model" in applied["created"]
    again = _json(_tollway(admin_url, "apply", "-f", str(document)))
    assert (again["created"], again["updated"], again["deleted"]) == ([], [], [])

    exported = _tollway(admin_url, "export")
    assert exported.returncode == 0, exported.stderr
    assert APP_KEY not in exported.stdout
    assert hash_key(APP_KEY) not in exported.stdout, "the export never shows key hashes"
    doc = yaml.safe_load(exported.stdout)
    assert "keys" not in doc, "keys live in the keys API and in config files by reference"
    exported_file = tmp_path / "exported.yaml"
    exported_file.write_text(exported.stdout)
    reapplied = _json(_tollway(admin_url, "apply", "-f", str(exported_file)))
    assert reapplied["deleted"] == [], "a document without keys leaves the keys alone"
    assert next(p for p in doc["prices"] if p["model"] == "cli-model")["input_per_mtok"] == "0.15"

    created = _json(_tollway(admin_url, "keys", "create", "from-cli", "--team", "ml"))
    async with httpx.AsyncClient(base_url=stack.base_url) as edge:
        for key in (APP_KEY, created["key"]):
            response = await edge.post(
                "/chat/completions",
                json={"model": "cli-model", "messages": [{"role": "user", "content": "hi"}]},
                headers={"authorization": f"Bearer {key}"},
            )
            assert response.status_code == 200, response.text
    listed = _json(_tollway(admin_url, "keys", "list", "--output", "json"))
    assert {"cli-app", "from-cli"} <= {key["name"] for key in listed["data"]}
    revoked = _json(_tollway(admin_url, "keys", "revoke", created["key_id"]))
    assert revoked["revoked_at"] > 0

    document.write_text(
        DOC.replace("  - name: cli-model", "  - name: cli-model-2")
        .replace("{model: cli-model,", "{model: cli-model-2,")
        .replace("models: [cli-model]", "models: [cli-model-2]")
    )
    pruned = _json(_tollway(admin_url, "apply", "-f", str(document)))
    assert "model cli-model" in pruned["deleted"]
    assert "price cli-model" in pruned["deleted"]

    bad = _tollway(admin_url, "keys", "list", token="wrong")
    assert bad.returncode == 2, "admin refused the token (docs/operations.md, exit codes)"
    assert "401" in bad.stderr
