"""Which Host headers a service answers to: its names, `*.suffix` patterns, IP literals."""

from __future__ import annotations

import pytest
from starlette.types import Receive, Scope, Send

from tollway_common.trusted_hosts import TrustedHostMiddleware, host_name, is_trusted

PATTERNS = ("localhost", "admin", "*.corp.example")


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("localhost:8081", "localhost"),
        ("Admin", "admin"),
        ("[::1]:8080", "::1"),
        ("::1", "::1"),
        ("llm.example.com.", "llm.example.com"),
        ("", ""),
    ],
)
def test_the_name_is_read_without_port_and_case(header: str, name: str) -> None:
    assert host_name(header) == name


@pytest.mark.parametrize(
    "header",
    ["localhost:8081", "admin", "tollway.corp.example", "127.0.0.1:8081", "10.1.2.3", "[::1]:80"],
)
def test_listed_names_subdomains_and_ip_addresses_pass(header: str) -> None:
    assert is_trusted(header, PATTERNS)


@pytest.mark.parametrize(
    "header",
    ["attacker.example", "corp.example", "localhost.attacker.example", "evilcorp.example", ""],
)
def test_other_names_are_refused(header: str) -> None:
    assert not is_trusted(header, PATTERNS)


def test_a_star_trusts_every_host() -> None:
    assert is_trusted("anything.example", ("*",))


def test_the_middleware_reads_its_names_in_any_case_and_judges_each_host_once() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("not called here")

    middleware = TrustedHostMiddleware(app, ["Gateway.Corp.Example"])
    assert middleware._trusted("gateway.corp.example:8080")
    assert not middleware._trusted("evil.example")
    assert middleware._judged == {"gateway.corp.example:8080": True, "evil.example": False}
