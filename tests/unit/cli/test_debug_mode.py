"""The debug switch sets settings the services really read: debug logs everywhere, the router
storing every caller's bodies."""

from __future__ import annotations

import pytest

from tollway_admin.settings import AdminSettings
from tollway_cli.debug_mode import requested, service_settings
from tollway_edge.settings import EdgeSettings
from tollway_metering.settings import MeteringSettings
from tollway_router.settings import BodyLogMode, RouterSettings

SETTINGS = {
    "edge": EdgeSettings,
    "router": RouterSettings,
    "metering": MeteringSettings,
    "admin": AdminSettings,
}


@pytest.mark.parametrize(
    ("value", "on"), [("1", True), ("true", True), ("ON", True), ("0", False), ("", False)]
)
def test_the_switch_is_an_environment_variable(value: str, on: bool) -> None:
    assert requested({"TOLLWAY_DEBUG": value}) is on
    assert requested({}) is False


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_every_service_logs_at_debug(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in service_settings(service).items():
        monkeypatch.setenv(name, value)
    assert SETTINGS[service]().log.level == "DEBUG"


def test_the_router_stores_every_callers_bodies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in service_settings("router").items():
        monkeypatch.setenv(name, value)
    assert RouterSettings().body_log.mode is BodyLogMode.ALL
