"""The rate-limit headers OpenAI clients read, from a reservation or a refusal."""

from __future__ import annotations

from collections.abc import Sequence

from tollway_edge.limits.plan import Check, Dimension

_NAMES = {Dimension.REQUESTS: "requests", Dimension.TOKENS: "tokens"}


def duration(ms: int) -> str:
    """OpenAI's form: `20ms`, `1.5s`, `6m0s`."""
    if ms < 1000:
        return f"{max(ms, 0)}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.3g}s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest}s"


def success_headers(checks: Sequence[Check], results: Sequence[tuple[int, int]]) -> dict[str, str]:
    """Per dimension, the check with the least room left (the one a client will meet first)."""
    tightest: dict[Dimension, tuple[Check, int, int]] = {}
    for check, (remaining, reset_ms) in zip(checks, results, strict=True):
        if check.dimension in _NAMES:
            best = tightest.get(check.dimension)
            if best is None or remaining < best[1]:
                tightest[check.dimension] = (check, remaining, reset_ms)
    headers: dict[str, str] = {}
    for dimension, (check, remaining, reset_ms) in tightest.items():
        name = _NAMES[dimension]
        headers[f"x-ratelimit-limit-{name}"] = str(check.limit)
        headers[f"x-ratelimit-remaining-{name}"] = str(max(remaining, 0))
        headers[f"x-ratelimit-reset-{name}"] = duration(reset_ms)
    return headers


def refusal_headers(check: Check, retry_after_ms: int) -> dict[str, str]:
    name = _NAMES.get(check.dimension)
    if name is None:
        return {}
    return {
        f"x-ratelimit-limit-{name}": str(check.limit),
        f"x-ratelimit-remaining-{name}": "0",
        f"x-ratelimit-reset-{name}": duration(retry_after_ms),
    }
