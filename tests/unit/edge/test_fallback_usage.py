from __future__ import annotations

from tollway_common.contract import (
    Endpoint,
    InferRequest,
    Principal,
    RequestFacts,
    ResolvedRoute,
    UsageSource,
)
from tollway_common.errors import RouterLost
from tollway_edge.dispatch import Unanswered
from tollway_edge.fallback_usage import estimate

INFER = InferRequest(
    request_id="r1",
    endpoint=Endpoint.CHAT_COMPLETIONS,
    principal=Principal(key_id="k", team_id="t", org_id="o"),
    route=ResolvedRoute(alias="demo"),
    received_at_ms=1000,
    deadline_ms=2000,
    stream=True,
    body={"messages": [{"role": "user", "content": "x" * 64}]},
    facts=RequestFacts(prompt_tokens=16),
)


def test_a_router_lost_mid_answer_is_the_clients_error_with_an_estimate() -> None:
    event = estimate(INFER, RouterLost("gone"), chunks_relayed=3)

    assert (event.source, event.status_code, event.error_code) == (
        UsageSource.EDGE,
        502,
        "router_lost",
    )
    assert (event.prompt_tokens, event.completion_tokens, event.usage_estimated) == (16, 3, True)


def test_a_request_no_router_answered_is_not_billed_a_prompt() -> None:
    event = estimate(INFER, Unanswered("gone"), chunks_relayed=0)

    assert (event.status_code, event.error_code) == (502, "router_lost")
    assert (event.prompt_tokens, event.total_tokens, event.usage_estimated) == (0, 0, False)
