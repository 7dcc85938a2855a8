"""The one switch for debugging a local gateway (pure): `tollway run --debug`, or
`TOLLWAY_DEBUG=1`, starts every service with debug logs and the router storing the (redacted)
bodies of every caller, where the request log shows them. Each service keeps its own settings;
the switch only sets them (docs/adr/0020-one-debug-switch.md)."""

from __future__ import annotations

from collections.abc import Mapping

DEBUG_ENV = "TOLLWAY_DEBUG"
_ON = frozenset({"1", "true", "yes", "on"})

WARNING = (
    "DEBUG MODE: every service logs at DEBUG and the router stores the request and response "
    "bodies of every caller (redacted, kept for the body retention; a policy with "
    "log_bodies: false still opts out). Prompts and answers are sensitive: do not run a "
    "shared or production gateway like this."
)


def requested(environ: Mapping[str, str]) -> bool:
    return environ.get(DEBUG_ENV, "").strip().lower() in _ON


def service_settings(service: str) -> dict[str, str]:
    """The settings debug mode gives `service` ("edge", "router", "metering", "admin")."""
    settings = {f"TOLLWAY_{service.upper()}_LOG__LEVEL": "DEBUG"}
    if service == "router":
        settings["TOLLWAY_ROUTER_BODY_LOG__MODE"] = "all"
    return settings
