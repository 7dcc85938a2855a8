"""The one Retry-After parser and the one error-header renderer."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tollway_common import errors, retry_after
from tollway_common.contract import ErrorReply
from tollway_common.openai_errors import OpenAIErrorBody, error_headers

ROOT = Path(__file__).parents[3]
# 2026-12-07 12:00:00 UTC
NOW = 1796644800.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after": "2.5"}, 2.5),
        ({"retry-after-ms": "450"}, 0.45),
        ({"retry-after-ms": "450", "retry-after": "9"}, 0.45),
        ({"retry-after-ms": "inf", "retry-after": "9"}, 9.0),
        ({"retry-after": "Mon, 07 Dec 2026 12:00:30 GMT"}, 30.0),
        ({"retry-after": "Mon, 07 Dec 2026 12:00:30 -0000"}, 30.0),
        ({"retry-after": "Mon, 07 Dec 2026 11:59:00 GMT"}, 0.0),
        ({"retry-after": "86400"}, retry_after.MAX_S),
        ({"retry-after": "1e308"}, retry_after.MAX_S),
        ({"retry-after": "inf"}, None),
        ({"retry-after": "Infinity"}, None),
        ({"retry-after": "-inf"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "-5"}, None),
        ({"retry-after": "soon"}, None),
        ({"retry-after": ""}, None),
        ({"retry-after-ms": "nan"}, None),
        ({}, None),
    ],
)
def test_retry_after_is_a_usable_wait_or_none(
    headers: dict[str, str], expected: float | None
) -> None:
    assert retry_after.parse(headers, NOW) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(6.6, "7"), (0.0, "0"), (-3.0, "0"), (1e300, str(round(1e300))), (math.inf, None)],
)
def test_the_header_value_is_whole_seconds_or_nothing(seconds: float, expected: str | None) -> None:
    assert retry_after.header_value(seconds) == expected


@pytest.mark.parametrize("seconds", [math.inf, -math.inf, math.nan])
def test_an_error_with_no_finite_wait_renders_without_retry_after(seconds: float) -> None:
    error = errors.UpstreamRateLimited("slow down", retry_after=seconds)
    assert error.headers() == {}
    reply = ErrorReply(status=429, error=error.body(), retry_after=seconds, should_retry=False)
    assert error_headers(reply.retry_after, reply.should_retry) == {"x-should-retry": "false"}


def test_error_headers_keep_the_errors_own_headers() -> None:
    extra = {"x-ratelimit-limit-requests": "10"}
    assert error_headers(2.0, None, extra) == {**extra, "retry-after": "2"}
    assert extra == {"x-ratelimit-limit-requests": "10"}


def test_a_router_reply_renders_the_headers_its_error_would() -> None:
    error = errors.UpstreamAuthFailed("bad secret", retry_after=3.2)
    reply = ErrorReply(
        status=error.status,
        error=OpenAIErrorBody(message="m", type=error.type),
        retry_after=error.retry_after,
        should_retry=error.should_retry_header,
    )
    assert error_headers(reply.retry_after, reply.should_retry) == error.headers()


def _sources() -> list[Path]:
    roots = [ROOT / "services", ROOT / "libs"]
    return sorted(p for root in roots for p in root.rglob("src/**/*.py"))


def test_only_the_one_parser_and_the_one_renderer_name_the_header() -> None:
    homes = {"retry_after.py", "openai_errors.py"}
    spelled = [p.name for p in _sources() if '"retry-after' in p.read_text()]
    assert sorted(set(spelled) - homes) == []
