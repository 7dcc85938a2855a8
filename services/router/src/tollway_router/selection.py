"""Pick the deployment that serves a request: smooth weighted round robin (pure)."""

from __future__ import annotations

from tollway_common.control import Deployment, ModelAlias
from tollway_common.errors import UpstreamUnavailable


class WeightedRoundRobin:
    """nginx's smooth weighted round robin: over any window, picks follow the weights evenly."""

    def __init__(self) -> None:
        self._current: dict[str, dict[str, int]] = {}

    def pick(self, model: ModelAlias) -> Deployment:
        candidates = [d for d in model.deployments if d.weight > 0]
        if not candidates:
            raise UpstreamUnavailable(
                f"Model '{model.name}' has no deployment with a weight above zero."
            )
        if len(candidates) == 1:
            return candidates[0]
        current = self._current.setdefault(model.name, {})
        total = 0
        best: Deployment | None = None
        for deployment in candidates:
            score = current.get(deployment.name, 0) + deployment.weight
            current[deployment.name] = score
            total += deployment.weight
            if best is None or score > current[best.name]:
                best = deployment
        assert best is not None
        current[best.name] -= total
        return best
