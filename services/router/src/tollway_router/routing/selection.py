"""Pick the deployment that serves a request, by the alias's strategy (pure).

Every strategy ranks the candidates by one number (in-flight calls, recent latency, expected
cost, priority) and breaks ties with the smooth weighted round robin, so equal deployments still
share the load by their weights. Which candidates are available (health, cooldowns, circuit
breakers, already tried) is decided before: `health.py` and `handler.py`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from tollway_common.control import Deployment, ModelAlias, RoutingStrategy

# What a completion is assumed to produce when the client set no max_tokens (lowest_cost only).
ASSUMED_COMPLETION_TOKENS = 256


@dataclass(frozen=True, slots=True)
class Candidate:
    deployment: Deployment
    inflight: int = 0
    latency_ms: float | None = None


@dataclass(frozen=True, slots=True)
class RequestSize:
    prompt_tokens: int
    max_tokens: int | None

    @property
    def completion_tokens(self) -> int:
        return self.max_tokens if self.max_tokens is not None else ASSUMED_COMPLETION_TOKENS


def expected_cost(deployment: Deployment, size: RequestSize) -> float:
    """The request's cost at this deployment's prices; unpriced deployments rank last."""
    if deployment.input_per_mtok is None and deployment.output_per_mtok is None:
        return math.inf
    cost = (deployment.input_per_mtok or Decimal(0)) * size.prompt_tokens + (
        deployment.output_per_mtok or Decimal(0)
    ) * size.completion_tokens
    return float(cost)


def _rank_key(
    strategy: RoutingStrategy, size: RequestSize | None
) -> Callable[[Candidate], float] | None:
    if strategy is RoutingStrategy.LEAST_INFLIGHT:
        return lambda c: c.inflight
    if strategy is RoutingStrategy.LOWEST_LATENCY:
        # No sample yet ranks first, so a new or recovered deployment gets measured.
        return lambda c: -1.0 if c.latency_ms is None else c.latency_ms
    if strategy is RoutingStrategy.LOWEST_COST and size is not None:
        return lambda c: expected_cost(c.deployment, size)
    if strategy is RoutingStrategy.PRIORITY:
        return lambda c: c.deployment.priority
    return None


class Selector:
    """Chooses one of an alias's candidates; keeps nginx's smooth weighted round-robin scores
    per alias, so over any window the picks among equals follow their weights evenly."""

    def __init__(self) -> None:
        self._scores: dict[str, dict[str, int]] = {}

    def pick(
        self, model: ModelAlias, candidates: Sequence[Candidate], size: RequestSize | None = None
    ) -> Deployment:
        if not candidates:
            raise ValueError("pick needs at least one candidate")
        key = _rank_key(model.strategy, size)
        best = list(candidates)
        if key is not None and len(best) > 1:
            lowest = min(key(c) for c in best)
            best = [c for c in best if key(c) == lowest]
        if len(best) == 1:
            return best[0].deployment
        return self._round_robin(model.name, [c.deployment for c in best])

    def _round_robin(self, alias: str, deployments: Sequence[Deployment]) -> Deployment:
        scores = self._scores.setdefault(alias, {})
        total = 0
        best: Deployment | None = None
        for deployment in deployments:
            weight = max(deployment.weight, 1)
            score = scores.get(deployment.name, 0) + weight
            scores[deployment.name] = score
            total += weight
            if best is None or score > scores[best.name]:
                best = deployment
        assert best is not None
        scores[best.name] -= total
        return best
