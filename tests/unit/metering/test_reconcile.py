from __future__ import annotations

from decimal import Decimal
from typing import Any

from tollway_common.contract import Endpoint, Principal, UsageEvent, UsageSource
from tollway_metering.charges import Charge
from tollway_metering.reconcile import Plan, plan
from tollway_metering.rows import (
    MERGED_SOURCE,
    RANK_MERGED,
    RETRACTION_COLUMNS,
    USAGE_COLUMNS,
    retraction_row,
    usage_row,
)

REAL = Charge(Decimal("0.000042"), "USD", "v1", False)
ESTIMATE = Charge(Decimal(0), "USD", "v1", False, estimated_cost=Decimal("0.00001"))


def _router(request_id: str = "r1", **overrides: Any) -> UsageEvent:
    fields: dict[str, Any] = {
        "request_id": request_id,
        "received_at_ms": 1_700_000_000_000,
        "endpoint": Endpoint.CHAT_COMPLETIONS,
        "principal": Principal(key_id="k", team_id="t", org_id="o"),
        "model_alias": "gpt",
        "provider": "openai",
        "status_code": 200,
        "prompt_tokens": 12,
        "completion_tokens": 30,
        "total_tokens": 42,
        "stream": True,
    }
    fields.update(overrides)
    return UsageEvent.model_validate(fields)


def _edge(request_id: str = "r1") -> UsageEvent:
    """What the edge publishes when it lost the router mid-stream: the client got a 502."""
    return _router(
        request_id,
        source=UsageSource.EDGE,
        status_code=502,
        error_type="server_error",
        error_code="router_lost",
        prompt_tokens=12,
        completion_tokens=3,
        total_tokens=15,
        usage_estimated=True,
        provider="",
    )


def _as_dict(row: list[Any]) -> dict[str, Any]:
    return dict(zip(USAGE_COLUMNS, row, strict=True))


def test_a_first_event_is_written_as_it_is() -> None:
    router = _router()

    assert plan([router], [REAL], {}) == Plan(rows=[usage_row(router, REAL)])


def test_a_redelivered_event_writes_nothing() -> None:
    router = _router()
    stored = {"r1": usage_row(router, REAL)}

    assert plan([router, router], [REAL, REAL], stored) == Plan(skipped=1)


def test_the_edges_status_merges_with_the_routers_charge_in_either_order() -> None:
    router, edge = _router(), _edge()
    router_row, edge_row = usage_row(router, REAL), usage_row(edge, ESTIMATE)

    edge_later = plan([edge], [ESTIMATE], {"r1": router_row})
    router_later = plan([router], [REAL], {"r1": edge_row})
    together = plan([router, edge], [REAL, ESTIMATE], {})

    merged = _as_dict(edge_later.rows[0])
    # What the client got (the edge saw the error) and what the provider charged (the router).
    assert (merged["status_code"], merged["error_type"], merged["error_code"]) == (
        502,
        "server_error",
        "router_lost",
    )
    assert (merged["prompt_tokens"], merged["completion_tokens"]) == (12, 30)
    assert (merged["cost"], merged["usage_estimated"]) == (REAL.cost, False)
    assert (merged["source"], merged["source_rank"]) == (MERGED_SOURCE, RANK_MERGED)
    assert router_later.rows == edge_later.rows == together.rows
    # The replaced row leaves the rollups; nothing was stored before a batch that had both.
    assert edge_later.retractions == [retraction_row(router_row)]
    assert router_later.retractions == [retraction_row(edge_row)]
    assert together.retractions == []


def test_nothing_replaces_a_merged_row() -> None:
    router, edge = _router(), _edge()
    merged = plan([router, edge], [REAL, ESTIMATE], {}).rows[0]

    assert plan([router, edge], [REAL, ESTIMATE], {"r1": merged}) == Plan(skipped=1)


def test_a_late_edge_estimate_alone_does_not_replace_another_one() -> None:
    edge = _edge()

    assert plan([edge], [ESTIMATE], {"r1": usage_row(edge, ESTIMATE)}) == Plan(skipped=1)


def test_each_request_of_a_batch_is_planned_on_its_own() -> None:
    first, second, third = _router("a"), _router("b"), _edge("c")
    stored = {"a": usage_row(first, REAL)}

    result = plan([first, second, third], [REAL, REAL, ESTIMATE], stored)

    assert result == Plan(
        rows=[usage_row(second, REAL), usage_row(third, ESTIMATE)], retractions=[], skipped=1
    )


def test_a_retraction_carries_what_the_rollups_sum_and_group_by() -> None:
    row = _as_dict(usage_row(_router(), REAL))

    retraction = dict(zip(RETRACTION_COLUMNS, retraction_row(list(row.values())), strict=True))

    assert retraction == {name: row[name] for name in RETRACTION_COLUMNS}


def test_the_routers_correction_for_a_cut_answer_replaces_its_first_event() -> None:
    first = _router()
    corrected = _router(status_code=499, error_type="client_cut", client_cut=True)
    stored = {"r1": usage_row(first, REAL)}

    result = plan([corrected], [REAL], stored)

    row = _as_dict(result.rows[0])
    assert (row["status_code"], row["source_rank"], row["cost"]) == (499, RANK_MERGED, REAL.cost)
    assert result.retractions == [retraction_row(usage_row(first, REAL))]
    assert plan([first], [REAL], {"r1": result.rows[0]}) == Plan(skipped=1)
