from __future__ import annotations

from collections import Counter

import pytest

from tollway_common.control import Deployment, ModelAlias
from tollway_common.errors import UpstreamUnavailable
from tollway_router.selection import WeightedRoundRobin


def _model(**weights: int) -> ModelAlias:
    return ModelAlias(
        name="m",
        deployments=[
            Deployment(name=name, provider="fake", model="x", weight=weight)
            for name, weight in weights.items()
        ],
    )


def test_picks_follow_the_weights_evenly() -> None:
    selector = WeightedRoundRobin()
    model = _model(a=5, b=1, c=1)
    picks = [selector.pick(model).name for _ in range(7)]
    assert Counter(picks) == {"a": 5, "b": 1, "c": 1}
    assert picks[:3] != ["a", "a", "a"], "smooth: the heavy one is spread out"


def test_weight_zero_is_never_picked() -> None:
    selector = WeightedRoundRobin()
    model = _model(a=1, b=0)
    assert {selector.pick(model).name for _ in range(10)} == {"a"}


def test_all_weights_zero_is_an_upstream_error() -> None:
    with pytest.raises(UpstreamUnavailable, match="no deployment"):
        WeightedRoundRobin().pick(_model(a=0))
