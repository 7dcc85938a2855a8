"""`python -m tollway_cli run` (what `make run` starts) serves the openai SDK, refuses a second
copy, and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from openai import APIError, AuthenticationError, OpenAI

from tollway_cli.servers import free_port

_BANNER_TIMEOUT_S = 90.0
CONFIG = Path(__file__).parents[2] / "config" / "tollway.yaml"
DEV_KEY = "sk-tollway-launcher-test-0123456789"


def _launch(data_dir: Path, port: int, admin_port: int) -> subprocess.Popen[str]:
    monitor_ports = ["--router-monitor-port", str(free_port())]
    monitor_ports += ["--metering-monitor-port", str(free_port())]
    monitor_ports += ["--edge-metrics-port", str(free_port())]
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tollway_cli",
            "run",
            "--config",
            str(CONFIG),
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
            "--admin-port",
            str(admin_port),
            *monitor_ports,
        ],
        env={**os.environ, "TOLLWAY_DEV_API_KEY": DEV_KEY},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _read_until(process: subprocess.Popen[str], marker: str) -> str:
    assert process.stdout is not None
    seen = ""
    deadline = time.monotonic() + _BANNER_TIMEOUT_S
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen += line
        if marker in line:
            return seen
    raise AssertionError(f"launcher never printed {marker!r}; output:\n{seen}")


def _started(data_dir: Path) -> tuple[subprocess.Popen[str], str, int, int]:
    """The launcher up, with its banner. A port found free can be taken by another test worker
    before a service binds it; the launcher then stops with "address already in use", and it
    is started again on other ports (a few times at most)."""
    for _ in range(3):
        port, admin_port = free_port(), free_port()
        process = _launch(data_dir, port, admin_port)
        try:
            return process, _read_until(process, "Press Ctrl-C to stop."), port, admin_port
        except AssertionError as exc:
            if process.poll() is None:
                process.terminate()
            process.wait(60)
            if process.stdout is not None:
                process.stdout.close()
            if "address already in use" not in str(exc):
                raise
    raise AssertionError("the launcher met a taken port three times")


@pytest.fixture
def launched(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str, int, int]]:
    process, banner, port, admin_port = _started(tmp_path / "data")
    try:
        yield process, banner, port, admin_port
    finally:
        # SIGTERM, not SIGKILL: the launcher must stop the services it started.
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()


def test_run_serves_the_openai_sdk_and_stops_on_sigterm(
    tmp_path: Path, launched: tuple[subprocess.Popen[str], str, int, int]
) -> None:
    process, banner, port, admin_port = launched
    assert f"http://127.0.0.1:{port}/v1" in banner
    assert DEV_KEY in banner
    assert (tmp_path / "data" / "admin-token").read_text().strip() in banner
    generated = {
        name: (tmp_path / "data" / name).read_text()
        for name in ("admin-token", "admin-session-secret", "client-ip-salt")
    }
    assert len(set(generated.values())) == 3, "the session secret is not the admin token"
    metrics_urls = re.findall(r"http://127\.0\.0\.1:\d+/metrics", banner)
    assert len(metrics_urls) == 4, "edge, admin, router and metering"
    for url in metrics_urls:
        with urllib.request.urlopen(url, timeout=5) as response:
            assert b"tollway_build_info" in response.read()
    with OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=DEV_KEY, max_retries=0) as client:
        completion = client.chat.completions.create(
            model="tollway-demo", messages=[{"role": "user", "content": "ping"}]
        )
        assert "ping" in (completion.choices[0].message.content or "")
        assert [m.id for m in client.models.list()] == ["tollway-demo"]
    _issue_use_and_revoke_a_key(tmp_path / "data", port, admin_port)
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0


def _tollway(data_dir: Path, admin_port: int, *args: str) -> dict[str, Any]:
    """The CLI as a user runs it next to `make run`: the token comes from the data folder."""
    env = {k: v for k, v in os.environ.items() if k != "TOLLWAY_ADMIN_TOKEN"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tollway_cli",
            *args,
            "--data-dir",
            str(data_dir),
            "--admin-url",
            f"http://127.0.0.1:{admin_port}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def _issue_use_and_revoke_a_key(data_dir: Path, port: int, admin_port: int) -> None:
    issued = _tollway(data_dir, admin_port, "keys", "create", "sdk-app", "--models", "tollway-*")
    url = f"http://127.0.0.1:{port}/v1"
    with OpenAI(base_url=url, api_key=issued["key"], max_retries=0) as client:
        completion = client.chat.completions.create(
            model="tollway-demo", messages=[{"role": "user", "content": "hello"}]
        )
        assert completion.choices[0].message.content
        _tollway(data_dir, admin_port, "keys", "revoke", issued["key_id"])
        deadline = time.monotonic() + 1.0
        with pytest.raises(AuthenticationError, match="revoked"):  # noqa: PT012
            while time.monotonic() < deadline:
                client.models.list()
                time.sleep(0.02)


def test_second_run_says_one_is_running(
    tmp_path: Path, launched: tuple[subprocess.Popen[str], str, int, int]
) -> None:
    first = launched[0]
    second = _launch(tmp_path / "data", free_port(), free_port())
    output, _ = second.communicate(timeout=60)
    assert second.returncode == 1
    assert "already running" in output
    assert first.poll() is None, "the running gateway is left alone"


def test_a_crashed_service_is_restarted_and_nothing_outlives_a_killed_launcher(
    launched: tuple[subprocess.Popen[str], str, int, int],
) -> None:
    process, _, port, _ = launched
    children = psutil.Process(process.pid).children()
    router = next(child for child in children if "tollway_router" in child.cmdline())
    router.kill()
    report = _read_until(process, "router restarted")
    assert "router exited with code -9; restarting it in 1 s" in report
    deadline = time.monotonic() + 30
    with OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=DEV_KEY, max_retries=0) as client:
        while True:
            try:
                client.chat.completions.create(
                    model="tollway-demo", messages=[{"role": "user", "content": "again"}]
                )
                break
            except APIError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    survivors = psutil.Process(process.pid).children()
    assert len(survivors) == 6, "nats-server, redis-server and the four services"
    process.kill()
    process.wait(10)
    _, alive = psutil.wait_procs(survivors, timeout=30)
    for child in alive:
        child.kill()
    assert alive == [], "every child stops with a launcher killed hard"
