"""What a failed upstream call means for the next step (pure): retry, rotate the credential,
fall back to another alias, or give up; and how long to wait before trying the same place again.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from tollway_common.control import RetryOn, RetryPolicy
from tollway_common.errors import (
    ContextLengthExceeded,
    TollwayError,
    UpstreamAuthFailed,
    UpstreamBadRequest,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
    UpstreamUnreachable,
)

# Codes providers use when a content filter refused the prompt (Azure OpenAI, OpenAI).
CONTENT_POLICY_CODES = frozenset({"content_filter", "content_policy_violation"})


class Failure(StrEnum):
    RATE_LIMITED = "rate_limited"
    AUTH = "auth"
    SERVER_ERROR = "server_error"
    CONNECT_ERROR = "connect_error"
    TIMEOUT = "timeout"
    CONTEXT_LENGTH = "context_length"
    CONTENT_POLICY = "content_policy"
    FINAL = "final"


_RETRY_ON = {
    Failure.RATE_LIMITED: RetryOn.RATE_LIMITED,
    Failure.SERVER_ERROR: RetryOn.SERVER_ERROR,
    Failure.CONNECT_ERROR: RetryOn.CONNECT_ERROR,
    Failure.TIMEOUT: RetryOn.TIMEOUT,
}
# Failures that say the deployment is unwell (the circuit breaker counts them).
UNHEALTHY = frozenset({Failure.SERVER_ERROR, Failure.CONNECT_ERROR, Failure.TIMEOUT})


def classify(exc: TollwayError) -> Failure:
    if isinstance(exc, UpstreamRateLimited):
        return Failure.RATE_LIMITED
    if isinstance(exc, UpstreamAuthFailed):
        return Failure.AUTH
    if isinstance(exc, UpstreamTimeout):
        return Failure.TIMEOUT
    if isinstance(exc, UpstreamUnreachable):
        return Failure.CONNECT_ERROR
    if isinstance(exc, UpstreamUnavailable):
        return Failure.SERVER_ERROR
    if isinstance(exc, ContextLengthExceeded):
        return Failure.CONTEXT_LENGTH
    if isinstance(exc, UpstreamBadRequest) and exc.code_override in CONTENT_POLICY_CODES:
        return Failure.CONTENT_POLICY
    return Failure.FINAL


def may_retry(failure: Failure, policy: RetryPolicy) -> bool:
    """Another attempt within the alias? A rejected credential always moves on to the next
    credential or deployment: the fault is ours, not the request's."""
    if failure is Failure.AUTH:
        return True
    wanted = _RETRY_ON.get(failure)
    return wanted is not None and wanted in policy.retry_on


def backoff_s(retry: int, policy: RetryPolicy, rand: Callable[[], float]) -> float:
    """Full jitter: a uniform wait in [0, min(max, base * 2**(retry-1))] before retry `retry`."""
    ceiling: float = min(policy.backoff_max_s, policy.backoff_base_s * 2.0 ** max(0, retry - 1))
    return ceiling * rand()
