"""NATS passwords are made once per data folder, private to its owner, and reused."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from tollway_cli.bus_credentials import FILENAME, BusCredentials
from tollway_common.bus_permissions import Service


def test_passwords_are_made_once_and_kept_private(tmp_path: Path) -> None:
    first = BusCredentials.load_or_create(tmp_path)
    assert BusCredentials.load_or_create(tmp_path) == first
    assert stat.S_IMODE((tmp_path / FILENAME).stat().st_mode) == 0o600
    assert len(set(first.passwords.values())) == len(Service)


def test_a_service_missing_from_the_file_gets_a_password(tmp_path: Path) -> None:
    (tmp_path / FILENAME).write_text(json.dumps({"edge": "kept"}))
    credentials = BusCredentials.load_or_create(tmp_path)
    assert credentials.passwords[Service.EDGE] == "kept"
    assert set(json.loads((tmp_path / FILENAME).read_text())) == {s.value for s in Service}


def test_each_service_gets_only_its_own_password() -> None:
    credentials = BusCredentials.generate()
    env = credentials.env(Service.ROUTER, "nats://nats:4222")
    assert env == {
        "TOLLWAY_ROUTER_NATS__URL": "nats://nats:4222",
        "TOLLWAY_ROUTER_NATS__USER": "router",
        "TOLLWAY_ROUTER_NATS__PASSWORD": credentials.passwords[Service.ROUTER],
    }
