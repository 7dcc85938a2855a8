"""When the OIDC verifier answers from its cached signing keys and when it fetches the issuer's
JWKS again: the pure half of `oidc.py`, which does the fetching; the clock is passed in.

Cached keys stay usable after `ttl_s`: a stale key is served while one refresh runs in the
background, because waiting on a slow issuer for keys that are almost always still valid would
fail every request for as long as the issuer is slow. Only a key id the cache does not hold
makes a caller wait, and it fetches at most once per `refresh_min_s` after a success, or per
back-off window (doubling up to `backoff_max_s`) after a failure, so neither forged key ids nor
an unreachable issuer put a fetch in front of every request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Generic, TypeVar

K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class JwksTimings:
    ttl_s: float
    refresh_min_s: float
    backoff_s: float
    backoff_max_s: float

    def backoff(self, failures: int) -> float:
        """How long to wait before the next fetch after `failures` failures in a row."""
        if failures <= 0:
            return self.refresh_min_s
        return min(self.backoff_s * 2.0 ** (failures - 1), self.backoff_max_s)


class Step(StrEnum):
    USE = "use"
    USE_AND_REFRESH = "use_and_refresh"  # serve the cached key; start a background refresh
    FETCH = "fetch"  # the key id is unknown: wait for a fetch, then look again
    REFUSE = "refuse"  # unknown key id, and no fetch allowed yet


@dataclass(frozen=True)
class JwksCache(Generic[K]):
    keys: Mapping[str, K] = field(default_factory=dict)
    fetched_at: float | None = None
    # Earliest time of the next fetch: throttles unknown key ids and backs off after failures.
    next_fetch_at: float = float("-inf")
    failures: int = 0
    last_error: str = ""

    def step(self, kid: str, now: float, timings: JwksTimings) -> Step:
        may_fetch = now >= self.next_fetch_at
        if kid not in self.keys:
            return Step.FETCH if may_fetch else Step.REFUSE
        fresh = self.fetched_at is not None and now - self.fetched_at < timings.ttl_s
        return Step.USE_AND_REFRESH if may_fetch and not fresh else Step.USE

    def fetched(self, keys: Mapping[str, K], now: float, timings: JwksTimings) -> JwksCache[K]:
        return JwksCache(keys=dict(keys), fetched_at=now, next_fetch_at=now + timings.refresh_min_s)

    def failed(self, error: str, now: float, timings: JwksTimings) -> JwksCache[K]:
        """The cached keys are kept: they are still the issuer's until it says otherwise."""
        failures = self.failures + 1
        return replace(
            self,
            failures=failures,
            last_error=error,
            next_fetch_at=now + timings.backoff(failures),
        )

    def refusal(self, kid: str) -> str:
        """Why a token naming `kid` cannot be checked now."""
        if self.failures:
            return f"The token issuer's signing keys could not be fetched: {self.last_error}."
        return f"The bearer token is signed with key id '{kid}', which the issuer does not publish."
