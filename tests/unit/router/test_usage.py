from __future__ import annotations

from tollway_common.contract import (
    Endpoint,
    InferRequest,
    Principal,
    RequestFacts,
    ResolvedRoute,
    Usage,
)
from tollway_router.usage import Outcome, build_event

INFER = InferRequest(
    request_id="r1",
    endpoint=Endpoint.CHAT_COMPLETIONS,
    principal=Principal(key_id="k", team_id="t"),
    route=ResolvedRoute(alias="demo"),
    received_at_ms=1000,
    deadline_ms=2000,
    stream=True,
    body={"messages": [{"role": "user", "content": "x" * 40}]},
    facts=RequestFacts(prompt_tokens=10),
)


def test_reported_usage_is_used_as_is() -> None:
    usage = Usage(prompt_tokens=3, completion_tokens=4, total_tokens=7)
    event = build_event(INFER, Outcome(usage=usage, deployment="d"), 12.3456, "r")
    assert (event.prompt_tokens, event.completion_tokens, event.total_tokens) == (3, 4, 7)
    assert event.usage_estimated is False
    assert event.latency_ms == 12.346
    assert event.stream is True


def test_missing_usage_is_estimated_from_the_edges_prompt_estimate_and_marked() -> None:
    event = build_event(INFER, Outcome(output_chars=81, status_code=499), 1.0, "r")
    assert (event.prompt_tokens, event.completion_tokens) == (10, 21)
    assert event.usage_estimated is True
    assert event.status_code == 499


def test_a_call_that_failed_before_any_output_charges_nothing() -> None:
    # An upstream 500, a deployment that could not be reached: providers do not charge.
    for status in (500, 502, 503, 504, 404):
        event = build_event(INFER, Outcome(status_code=status, error_type="server_error"), 1.0, "r")
        assert (event.prompt_tokens, event.completion_tokens, event.total_tokens) == (0, 0, 0)
        assert event.usage_estimated is False


def test_a_stream_that_failed_after_output_is_estimated_and_marked() -> None:
    event = build_event(INFER, Outcome(status_code=502, output_chars=8), 1.0, "r")
    assert (event.prompt_tokens, event.completion_tokens) == (10, 2)
    assert event.usage_estimated is True


def test_a_cancelled_call_without_output_is_estimated_not_taken_as_free() -> None:
    event = build_event(INFER, Outcome(status_code=499), 1.0, "r")
    assert (event.prompt_tokens, event.completion_tokens) == (10, 0)
    assert event.usage_estimated is True
