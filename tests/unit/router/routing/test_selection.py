from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from tollway_common.control import Deployment, ModelAlias, RoutingStrategy
from tollway_router.routing.selection import Candidate, RequestSize, Selector, expected_cost


def _deployment(name: str, **fields: object) -> Deployment:
    return Deployment.model_validate({"name": name, "provider": "fake", "model": "x", **fields})


def _model(strategy: RoutingStrategy, *deployments: Deployment) -> ModelAlias:
    return ModelAlias(name="m", deployments=list(deployments), strategy=strategy)


def _picks(selector: Selector, model: ModelAlias, candidates: list[Candidate], n: int) -> list[str]:
    return [selector.pick(model, candidates).name for _ in range(n)]


def test_weighted_round_robin_follows_the_weights_evenly() -> None:
    deployments = [_deployment("a", weight=5), _deployment("b"), _deployment("c")]
    model = _model(RoutingStrategy.WEIGHTED_ROUND_ROBIN, *deployments)
    picks = _picks(Selector(), model, [Candidate(d) for d in deployments], 7)
    assert Counter(picks) == {"a": 5, "b": 1, "c": 1}
    assert picks[:3] != ["a", "a", "a"], "smooth: the heavy one is spread out"


def test_least_inflight_picks_the_idlest_and_shares_ties_by_weight() -> None:
    a, b, c = _deployment("a"), _deployment("b"), _deployment("c", weight=3)
    model = _model(RoutingStrategy.LEAST_INFLIGHT, a, b, c)
    selector = Selector()
    assert selector.pick(model, [Candidate(a, 4), Candidate(b, 1), Candidate(c, 2)]) == b
    ties = _picks(selector, model, [Candidate(a, 0), Candidate(b, 5), Candidate(c, 0)], 8)
    assert Counter(ties) == {"a": 2, "c": 6}


def test_lowest_latency_measures_the_unmeasured_first_then_picks_the_fastest() -> None:
    a, b, c = _deployment("a"), _deployment("b"), _deployment("c")
    model = _model(RoutingStrategy.LOWEST_LATENCY, a, b, c)
    selector = Selector()
    measured = [Candidate(a, latency_ms=80.0), Candidate(b, latency_ms=20.0)]
    assert selector.pick(model, [*measured, Candidate(c)]) == c
    assert selector.pick(model, measured) == b


def test_lowest_cost_prices_the_request_and_puts_unpriced_deployments_last() -> None:
    cheap_in = _deployment("cheap-in", input_per_mtok=Decimal("1"), output_per_mtok=Decimal("10"))
    cheap_out = _deployment("cheap-out", input_per_mtok=Decimal("5"), output_per_mtok=Decimal("2"))
    unpriced = _deployment("unpriced")
    model = _model(RoutingStrategy.LOWEST_COST, cheap_in, cheap_out, unpriced)
    candidates = [Candidate(unpriced), Candidate(cheap_in), Candidate(cheap_out)]
    long_prompt = RequestSize(prompt_tokens=10_000, max_tokens=10)
    long_answer = RequestSize(prompt_tokens=10, max_tokens=10_000)
    assert Selector().pick(model, candidates, long_prompt) == cheap_in
    assert Selector().pick(model, candidates, long_answer) == cheap_out
    assert Selector().pick(model, [Candidate(unpriced), Candidate(cheap_in)], long_prompt) == (
        cheap_in
    )


def test_expected_cost_assumes_a_default_answer_length_without_max_tokens() -> None:
    deployment = _deployment("d", input_per_mtok=Decimal("0"), output_per_mtok=Decimal("1"))
    assert expected_cost(deployment, RequestSize(prompt_tokens=5, max_tokens=None)) == 256.0


def test_priority_takes_the_lowest_number_and_round_robins_within_it() -> None:
    primary_a = _deployment("primary-a", priority=0)
    primary_b = _deployment("primary-b", priority=0)
    backup = _deployment("backup", priority=1)
    model = _model(RoutingStrategy.PRIORITY, primary_a, primary_b, backup)
    selector = Selector()
    picks = _picks(
        selector, model, [Candidate(backup), Candidate(primary_a), Candidate(primary_b)], 4
    )
    assert Counter(picks) == {"primary-a": 2, "primary-b": 2}
    assert selector.pick(model, [Candidate(backup)]) == backup


def test_picking_from_nothing_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Selector().pick(_model(RoutingStrategy.PRIORITY, _deployment("a")), [])
