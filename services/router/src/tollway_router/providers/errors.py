"""The one ladder from an upstream's error to Tollway's taxonomy, shared by every adapter (pure).

An adapter only reads its own error body into an `ErrorDetail` and, for an error sent inside a
200 (a stream event, an error-typed body), infers the status from its own error types. The
ladder decides the rest, so a status means the same whichever provider sent it:

    429                       UpstreamRateLimited, with the wait `retry_after.parse` reads
    401, 402, 403             UpstreamAuthFailed: our credential, not the client's; the
                              provider's text is dropped, since it may quote the key
    408, 504                  UpstreamTimeout
    413                       PayloadTooLarge
    4xx context_length_...    ContextLengthExceeded
    400, 404, 422             UpstreamBadRequest, with the provider's code and param
    529                       UpstreamOverloaded (an UpstreamUnavailable of its own code, so
                              a Messages client still sees Anthropic's 529)
    anything else             UpstreamUnavailable, retryable elsewhere: 5xx, and a 4xx
                              outside the set above (409, a 405 or 407 from a proxy or a
                              wrong api_base), which says more about the deployment than
                              about the request

An upstream's text reaches the client only redacted: anything shaped like a credential
(`Bearer ...`, `sk-...`, `api_key=...`, a JWT) here, and the deployment's own resolved secrets
by `scrub` where the router knows them; a provider may echo the key it was sent.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from tollway_common import retry_after
from tollway_common.errors import (
    ContextLengthExceeded,
    PayloadTooLarge,
    TollwayError,
    UpstreamAuthFailed,
    UpstreamBadRequest,
    UpstreamOverloaded,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)

CONTEXT_LENGTH_EXCEEDED = "context_length_exceeded"
_BAD_REQUEST = frozenset({400, 404, 422})
_CREDENTIAL = frozenset({401, 402, 403})
_TIMEOUT = frozenset({408, 504})
_OVERLOADED = 529
REDACTED = "[redacted]"
# Credential-shaped text, the credential itself in group "secret".
_CREDENTIAL_SHAPES = re.compile(
    r"(?i)(?:\bbearer\s+|\b(?:api[-_ ]?key|x-api-key|authorization|access[-_]token|key)"
    r"[\"']?\s*[:=]\s*[\"']?)(?P<secret>[A-Za-z0-9._~+/=-]{8,})"
    r"|(?P<key>\b(?:sk|tw|rk|pk)-[A-Za-z0-9_-]{12,})"
    r"|(?P<jwt>\beyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*)"
)
# Shorter values are not worth hiding and would blank ordinary words.
_MIN_SECRET_CHARS = 8


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """What a provider's error body says, as its adapter read it."""

    message: str
    # The provider's machine-readable code: passed on with a refused request, and
    # `context_length_exceeded` (CONTEXT_LENGTH_EXCEEDED) where the adapter recognised one.
    code: str | None = None
    param: str | None = None


def from_response(
    status: int,
    headers: Mapping[str, str],
    detail: ErrorDetail,
    provider: str,
    now: Callable[[], float] = time.time,
) -> TollwayError:
    """The error an upstream answered with over HTTP; `provider` names it in the message."""
    wait = retry_after.parse(headers, now())
    return classify(status, detail, f"{provider} returned {status}", wait)


def classify(
    status: int, detail: ErrorDetail, origin: str, wait: float | None = None
) -> TollwayError:
    """The ladder itself; `origin` says where the error came from, `wait` is the upstream's
    Retry-After in seconds (only a 429 passes it on)."""
    message = redact(detail.message)
    if status == 429:
        return UpstreamRateLimited(f"{origin} (rate limited): {message}", retry_after=wait)
    if status in _CREDENTIAL:
        problem = (
            "it reports a billing problem with the gateway's account"
            if status == 402
            else "it refused the gateway's credential"
        )
        return UpstreamAuthFailed(
            f"{origin}: {problem} for this deployment. "
            "This is a gateway configuration problem, not your API key."
        )
    if status in _TIMEOUT:
        return UpstreamTimeout(f"{origin} (timed out): {message}")
    if status == 413:
        return PayloadTooLarge(f"{origin}: the request is too large: {message}")
    if detail.code == CONTEXT_LENGTH_EXCEEDED and 400 <= status < 500:
        return ContextLengthExceeded(message, param=detail.param)
    if status in _BAD_REQUEST:
        return UpstreamBadRequest(f"{origin}: {message}", param=detail.param, code=detail.code)
    if status == _OVERLOADED:
        return UpstreamOverloaded(f"{origin} (overloaded): {message}")
    return UpstreamUnavailable(f"{origin}: {message}")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with each of `secrets` and anything credential-shaped replaced by [redacted]."""
    for secret in secrets:
        if len(secret) >= _MIN_SECRET_CHARS:
            text = text.replace(secret, REDACTED)
    return _CREDENTIAL_SHAPES.sub(_hide, text)


def _hide(match: re.Match[str]) -> str:
    if match.group("secret") is None:
        return REDACTED
    start = match.start("secret") - match.start()
    return match.group(0)[:start] + REDACTED


def scrub(error: TollwayError, secrets: Iterable[str]) -> TollwayError:
    """The error with the deployment's own secrets (the resolved key, header values) redacted
    from its message, before it leaves the router."""
    error.message = redact(error.message, secrets)
    return error
