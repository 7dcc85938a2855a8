from __future__ import annotations

import pytest

from tollway_common.control import RetryOn, RetryPolicy
from tollway_common.errors import (
    ContextLengthExceeded,
    InternalError,
    InvalidRequest,
    TollwayError,
    UpstreamAuthFailed,
    UpstreamBadRequest,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
    UpstreamUnreachable,
)
from tollway_router.routing.retries import Failure, backoff_s, classify, may_retry


@pytest.mark.parametrize(
    ("error", "failure"),
    [
        (UpstreamRateLimited("x", retry_after=3), Failure.RATE_LIMITED),
        (UpstreamAuthFailed("x"), Failure.AUTH),
        (UpstreamTimeout("x"), Failure.TIMEOUT),
        (UpstreamUnreachable("x"), Failure.CONNECT_ERROR),
        (UpstreamUnavailable("x"), Failure.SERVER_ERROR),
        (ContextLengthExceeded("x"), Failure.CONTEXT_LENGTH),
        (UpstreamBadRequest("x", code="content_filter"), Failure.CONTENT_POLICY),
        (UpstreamBadRequest("x", code="content_policy_violation"), Failure.CONTENT_POLICY),
        (UpstreamBadRequest("x", code="invalid_value"), Failure.FINAL),
        (InvalidRequest("x"), Failure.FINAL),
        (InternalError("x"), Failure.FINAL),
    ],
)
def test_each_error_has_one_meaning_for_routing(error: TollwayError, failure: Failure) -> None:
    assert classify(error) is failure


def test_retry_on_lists_what_may_be_retried_and_a_rejected_credential_always_moves_on() -> None:
    only_timeouts = RetryPolicy(retry_on=[RetryOn.TIMEOUT])
    assert may_retry(Failure.TIMEOUT, only_timeouts)
    assert not may_retry(Failure.SERVER_ERROR, only_timeouts)
    assert not may_retry(Failure.RATE_LIMITED, only_timeouts)
    assert may_retry(Failure.AUTH, only_timeouts)
    assert not may_retry(Failure.FINAL, RetryPolicy())
    assert not may_retry(Failure.CONTEXT_LENGTH, RetryPolicy())


def test_backoff_doubles_up_to_the_ceiling_with_full_jitter() -> None:
    policy = RetryPolicy(backoff_base_s=0.5, backoff_max_s=3)
    assert [backoff_s(n, policy, lambda: 1.0) for n in (1, 2, 3, 4, 5)] == [0.5, 1, 2, 3, 3]
    assert backoff_s(3, policy, lambda: 0.25) == 0.5
    assert backoff_s(3, policy, lambda: 0.0) == 0.0
