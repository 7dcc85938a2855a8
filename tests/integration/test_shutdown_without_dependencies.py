"""Every service stops on SIGTERM within a bounded time and cleanly (exit code 0), even when
NATS and Redis have gone away under it or ClickHouse never answered."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
from tests.support.nats import start_test_nats
from tests.support.stack import Stack

from tollway_cli.processes import ManagedProcess, spawn_module
from tollway_cli.servers import free_port, start_redis
from tollway_common.bus_permissions import Service

# The services give their shutdown 10 s at most; this leaves room for a loaded test machine.
BOUND_S = 20.0


def _stopped_within_bound(process: ManagedProcess) -> float:
    started = time.monotonic()
    process.popen.send_signal(signal.SIGTERM)
    try:
        code = process.popen.wait(BOUND_S)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"{process.name} ignored SIGTERM for {BOUND_S:g} s:\n{process.log_tail()}")
    except Exception:
        process.kill()
        raise
    # uvicorn re-raises the signal once its graceful shutdown is over, so the HTTP services
    # end "killed by SIGTERM" after a clean stop.
    assert code in (0, -signal.SIGTERM), f"{process.name} exited with {code}:\n{process.log_tail()}"
    return time.monotonic() - started


def test_services_stop_on_sigterm_after_nats_and_redis_are_gone(tmp_path: Path) -> None:
    nats, redis = start_test_nats(tmp_path / "nats"), start_redis(tmp_path / "redis")
    stack = Stack(nats=nats, redis=redis, workdir=tmp_path)
    try:
        stack.start_router()
        stack.start_edge()
        stack.start_metering()
        stack.start_admin("admin-token-for-the-shutdown-test-0123")
        nats.kill()
        redis.kill()
        # Long enough for every client to notice and sit in its reconnect loop.
        time.sleep(2.0)
        took = {process.name: _stopped_within_bound(process) for process in stack.processes}
        assert max(took.values()) < BOUND_S, took
    finally:
        stack.stop()
        redis.stop()
        nats.stop()


def test_metering_stops_on_sigterm_while_clickhouse_never_answers(tmp_path: Path) -> None:
    nats = start_test_nats(tmp_path / "nats")
    # A port nobody listens on: every connection attempt is refused.
    unreachable = f"http://default:pw@127.0.0.1:{free_port()}/tollway"
    metering = spawn_module(
        "metering",
        "tollway_metering",
        {**nats.env(Service.METERING), "TOLLWAY_METERING_CLICKHOUSE_DSN": unreachable},
        tmp_path / "logs",
    )
    try:
        time.sleep(3.0)
        if metering.exit_code() is None:
            _stopped_within_bound(metering)
        else:
            assert metering.exit_code() != 0, "it may refuse to start, but not silently"
    finally:
        metering.stop(timeout=5)
        nats.stop()
