"""Retry-After, read and written: the one parser for what an upstream asks and the one
formatter for what a client is told.

Read: a usable `retry-after-ms` (OpenAI's, finer) wins over `retry-after`, which is
delta-seconds or an HTTP-date. A value that is not a finite, non-negative number (`inf`, `nan`,
`-5`, `soon`) and not a date is ignored: no hint beats a wrong one, and `inf` once set a
deployment aside for ever and made the error impossible to render. A wait above `MAX_S` is cut
to it: one header sets a deployment aside for an hour at most, and the first request after
that finds out again. A date already past means now (0 s).

Written: whole seconds, never negative; a value with no finite number of seconds is left out
rather than raising.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime

MAX_S = 3600.0


def parse(headers: Mapping[str, str], now: float) -> float | None:
    """The wait an upstream's headers ask for.

    Args:
        headers: the response headers, names in lower case.
        now: the current Unix time, which an HTTP-date is counted from.

    Returns:
        Seconds to wait, in [0, MAX_S], or None when the headers ask for nothing usable.
    """
    milliseconds = _number(headers.get("retry-after-ms"))
    asked = (
        None if milliseconds is None else milliseconds / 1000,
        _delta_or_date(headers.get("retry-after"), now),
    )
    for seconds in asked:
        if seconds is not None and math.isfinite(seconds) and seconds >= 0:
            return min(seconds, MAX_S)
    return None


def header_value(seconds: float) -> str | None:
    """`seconds` as a `retry-after` value (whole seconds, at least 0), or None for inf/nan."""
    if not math.isfinite(seconds):
        return None
    return str(max(0, round(seconds)))


def _number(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def _delta_or_date(raw: str | None, now: float) -> float | None:
    if raw is None:
        return None
    seconds = _number(raw)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(raw)
        if when.tzinfo is None:  # "-0000": RFC 5322's "UTC, source zone unknown"
            when = when.replace(tzinfo=UTC)
        return max(0.0, when.timestamp() - now)
    except (TypeError, ValueError, OverflowError):
        return None
