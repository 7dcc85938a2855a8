"""Read a time the way people type it on a command line (pure; the clock is passed in): a
span back from now (`90s`, `15m`, `24h`, `7d`, `2w`), or a date or date-time in ISO 8601
(`2026-12-01`, `2026-12-01T09:30`, `2026-12-01T09:30:00+01:00`; UTC when no offset)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_SPAN = re.compile(r"^([0-9]{1,6})([smhdw])\Z")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


class BadTime(ValueError):
    pass


def to_millis(value: str, now_s: float) -> int:
    """Unix milliseconds for `value`.

    Raises:
        BadTime: neither a span nor an ISO 8601 date, with what to type instead.
    """
    value = value.strip()
    span = _SPAN.match(value)
    if span:
        seconds = int(span.group(1)) * _UNIT_S[span.group(2)]
        return max(0, int((now_s - seconds) * 1000))
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadTime(
            f"{value!r} is not a time: give a span back from now (15m, 24h, 7d) or an ISO "
            "8601 date (2026-12-01, 2026-12-01T09:30Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0, int(moment.timestamp() * 1000))
