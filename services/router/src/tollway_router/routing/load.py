"""What this router sees of each deployment's load: calls in flight and recent latency (an
exponentially weighted moving average of the time to the first byte), for the
least-in-flight and lowest-latency strategies."""

from __future__ import annotations

from tollway_common.control import Deployment
from tollway_router.routing.selection import Candidate

_EWMA_WEIGHT = 0.3


class LoadBoard:
    def __init__(self) -> None:
        self._inflight: dict[str, int] = {}
        self._latency_ms: dict[str, float] = {}

    def candidate(self, deployment: Deployment) -> Candidate:
        name = deployment.name
        return Candidate(deployment, self._inflight.get(name, 0), self._latency_ms.get(name))

    def started(self, deployment: str) -> None:
        self._inflight[deployment] = self._inflight.get(deployment, 0) + 1

    def finished(self, deployment: str, first_byte_ms: float | None) -> None:
        self._inflight[deployment] = max(0, self._inflight.get(deployment, 0) - 1)
        if first_byte_ms is None:
            return
        previous = self._latency_ms.get(deployment)
        self._latency_ms[deployment] = (
            first_byte_ms
            if previous is None
            else previous + _EWMA_WEIGHT * (first_byte_ms - previous)
        )
