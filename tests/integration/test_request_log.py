"""The request log through the whole stack: requests made through the edge (one refused
upstream, one from a key whose policy logs bodies) are found by the admin API's filters and
pages, read one at a time with their attempts, cost and redacted bodies, and the same through
the `tollway` command (`--output json` parsed, exit codes checked)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any

import httpx
from tests.support.analytics import wait_for_usage
from tests.support.configs import TEST_KEY, gateway_config
from tests.support.fake_openai_server import FakeOpenAIServer, Fault
from tests.support.stack import Stack

from tollway_common.config_file import BootstrapKey
from tollway_common.control import Policy

ADMIN_TOKEN = "tw-admin-request-log-0123456789"
LOGGED_KEY = "sk-tollway-logged-request-log-0123456789"
SECRET_TEXT = "I am ann@example.com, card 4111 1111 1111 1111"
REDACTED_TEXT = "I am [REDACTED:email], card [REDACTED:card_number]"


async def _chat(edge: httpx.AsyncClient, key: str, model: str, text: str) -> tuple[int, str]:
    response = await edge.post(
        "/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": text}]},
        headers={"authorization": f"Bearer {key}"},
    )
    return response.status_code, response.headers["x-request-id"]


def _tollway(
    admin_url: str, *args: str, token: str = ADMIN_TOKEN
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tollway_cli", *args, "--admin-url", admin_url],
        env={**os.environ, "TOLLWAY_ADMIN_TOKEN": token},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


async def _detail_with_body(admin: httpx.AsyncClient, request_id: str) -> dict[str, Any]:
    """Bodies travel on their own stream: poll until metering stored this request's."""
    deadline = time.monotonic() + 60
    while True:
        response = await admin.get(f"/api/v1/requests/{request_id}")
        if response.status_code == 200 and response.json()["body"] is not None:
            detail: dict[str, Any] = response.json()
            return detail
        assert time.monotonic() < deadline, response.text
        await asyncio.sleep(0.3)


def _ids(answer: dict[str, Any]) -> list[str]:
    return [row["request_id"] for row in answer["data"]]


async def test_requests_are_found_read_and_listed_by_the_cli(
    stack: Stack, fake_upstream: FakeOpenAIServer
) -> None:
    secrets = stack.workdir / "secrets"
    (secrets / "logged").write_text(LOGGED_KEY)
    config = gateway_config(stack.workdir, fake_upstream.base_url)
    logged = BootstrapKey(
        name="logged", secret=f"file:{secrets / 'logged'}", policy=Policy(log_bodies=True)
    )
    stack.apply(config.model_copy(update={"keys": [*config.keys, logged]}))
    stack.start_metering()
    admin_url = stack.start_admin(ADMIN_TOKEN)

    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as edge:
        ok_status, ok_id = await _chat(edge, TEST_KEY, "gpt-test", "hello")
        fake_upstream.fault = Fault(kind="status", status=400, times=1)
        failed_status, failed_id = await _chat(edge, TEST_KEY, "gpt-test", "refused upstream")
        logged_status, logged_id = await _chat(edge, LOGGED_KEY, "tollway-demo", SECRET_TEXT)
    assert (ok_status, failed_status, logged_status) == (200, 400, 200)
    ids = [ok_id, failed_id, logged_id]
    await wait_for_usage(stack.nats.url_as("test"), ids)

    headers = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(base_url=admin_url, headers=headers, timeout=30) as admin:
        listed = (await admin.get("/api/v1/requests")).json()
        assert _ids(listed) == ids[::-1], "newest first"
        assert listed["next_cursor"] is None
        failed = (await admin.get("/api/v1/requests", params={"status": "4xx"})).json()
        assert _ids(failed) == [failed_id]
        assert failed["data"][0]["status_code"] == 400
        assert _ids((await admin.get("/api/v1/requests", params={"status": "ok"})).json()) == [
            logged_id,
            ok_id,
        ]
        by_model = (await admin.get("/api/v1/requests", params={"model_alias": "gpt-test"})).json()
        assert _ids(by_model) == [failed_id, ok_id]
        logged_key_id = listed["data"][0]["key_id"]
        by_key = (await admin.get("/api/v1/requests", params={"key_id": logged_key_id})).json()
        assert _ids(by_key) == [logged_id]
        by_id = (await admin.get("/api/v1/requests", params={"request_id": ok_id[:13]})).json()
        assert ok_id in _ids(by_id)
        future = {"since_ms": int(time.time() * 1000) + 60_000}
        assert (await admin.get("/api/v1/requests", params=future)).json()["data"] == []

        first = (await admin.get("/api/v1/requests", params={"limit": 2})).json()
        assert _ids(first) == [logged_id, failed_id]
        second = (
            await admin.get("/api/v1/requests", params={"limit": 2, "cursor": first["next_cursor"]})
        ).json()
        assert _ids(second) == [ok_id]
        assert second["next_cursor"] is None

        detail = await _detail_with_body(admin, logged_id)
        assert detail["usage"]["model_alias"] == "tollway-demo"
        assert detail["usage"]["prompt_tokens"] > 0
        assert detail["attempts"] == [
            {"deployment": "demo-fake", "credential": "", "outcome": "ok", "ok": True}
        ]
        assert [event["source"] for event in detail["events"]] == ["router"]
        assert REDACTED_TEXT in detail["body"]["request_body"]
        assert "ann@example.com" not in json.dumps(detail)
        # The demo model echoes the prompt: the response is redacted too.
        assert REDACTED_TEXT in detail["body"]["response_body"]
        assert detail["body"]["redactions"] == {"email": 2, "card_number": 2}
        refused = (await admin.get(f"/api/v1/requests/{failed_id}")).json()
        assert refused["usage"]["status_code"] == 400
        assert refused["attempts"][0]["ok"] is False
        assert refused["body"] is None, "the test key's policy does not log bodies"

        for params in ({"status": "teapot"}, {"limit": 0}, {"limit": 501}, {"cursor": "x"}):
            response = await admin.get("/api/v1/requests", params=params)
            assert response.status_code == 400, (params, response.text)
            assert response.json()["error"]["param"], response.text
        bad_id = await admin.get("/api/v1/requests/not a request id!")
        assert (bad_id.status_code, bad_id.json()["error"]["param"]) == (400, "request_id")
        unknown = await admin.get("/api/v1/requests/0192f0c4-0000-7000-8000-000000000000")
        assert unknown.status_code == 404
        assert "No request" in unknown.json()["error"]["message"]

    cli_failed = _json(_tollway(admin_url, "requests", "--status", "4xx", "--output", "json"))
    assert cli_failed == failed
    cli_detail = _json(_tollway(admin_url, "request", logged_id, "--output", "json"))
    assert cli_detail == detail
    table = _tollway(admin_url, "requests", "--model", "gpt-test", "--since", "1h")
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split()[:3] == ["WHEN", "(UTC)", "REQUEST"]
    assert [line.split()[2] for line in table.stdout.splitlines()[1:]] == [failed_id, ok_id]
    page = _tollway(admin_url, "request", logged_id)
    assert REDACTED_TEXT in page.stdout
    usage = _json(_tollway(admin_url, "usage", "--group-by", "model_alias", "--output", "json"))
    assert {row["group"]: row["requests"] for row in usage["data"]} == {
        "gpt-test": 2,
        "tollway-demo": 1,
    }
    models = _json(_tollway(admin_url, "models", "--output", "json"))
    assert {"tollway-demo", "gpt-test"} <= {model["name"] for model in models["data"]}
    assert "tollway-demo" in _tollway(admin_url, "models").stdout
    keys = _json(_tollway(admin_url, "keys", "list", "--output", "json"))
    assert logged_key_id in {key["key_id"] for key in keys["data"]}

    missing = _tollway(admin_url, "request", "0192f0c4-0000-7000-8000-000000000000")
    assert (missing.returncode, "404" in missing.stderr) == (1, True)
    denied = _tollway(admin_url, "requests", token="wrong")
    assert (denied.returncode, "401" in denied.stderr) == (2, True)
