"""Refuse HTTP requests whose `Host` is not one of the names the service is known by, which
defeats DNS rebinding: a page on an attacker's domain that re-resolves to the admin's address
still sends the attacker's name as `Host` (edge and admin; needs the `http` extra).

An IP literal is always accepted: a browser never sends one for a name it resolved, and
Kubernetes probes and Prometheus address pods by IP.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from tollway_common.errors import InvalidRequest
from tollway_common.http_errors import tollway_error_response


def host_name(header: str) -> str:
    """The name in a Host header, without the port, lower case (`[::1]:8080` gives `::1`)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    name, _, _port = header.rpartition(":") if header.count(":") == 1 else (header, "", "")
    return name.rstrip(".")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def is_trusted(header: str, patterns: Sequence[str]) -> bool:
    """Whether the Host header names an allowed host: a listed name, a `*.suffix` pattern's
    subdomain, any host for `*`, or an IP literal (`patterns` in lower case)."""
    name = host_name(header)
    if not name:
        return False
    if _is_ip(name):
        return True
    for pattern in patterns:
        if pattern == "*" or pattern == name:
            return True
        if pattern.startswith("*.") and name.endswith(pattern[1:]):
            return True
    return False


# Clients send few distinct Host values: each is judged once, not on every request.
_MAX_REMEMBERED = 256


class TrustedHostMiddleware:
    def __init__(self, app: ASGIApp, patterns: Sequence[str]) -> None:
        self.app = app
        self.patterns = tuple(pattern.lower() for pattern in patterns)
        self._judged: dict[str, bool] = {}

    def _trusted(self, header: str) -> bool:
        verdict = self._judged.get(header)
        if verdict is None:
            verdict = is_trusted(header, self.patterns)
            if len(self._judged) < _MAX_REMEMBERED:
                self._judged[header] = verdict
        return verdict

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = ""
        for name, value in scope["headers"]:
            if name == b"host":
                header = value.decode("latin-1")
                break
        if self._trusted(header):
            await self.app(scope, receive, send)
            return
        refusal = InvalidRequest(
            f"The host {host_name(header)!r} is not one this service answers to; the "
            "operator lists its names in TRUSTED_HOSTS (docs/security.md).",
            code="untrusted_host",
        )
        request_id = str(scope.get("state", {}).get("request_id", ""))
        await tollway_error_response(refusal, request_id)(scope, receive, send)
