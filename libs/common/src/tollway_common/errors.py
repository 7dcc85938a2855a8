"""Tollway's error taxonomy: one class per thing that can go wrong, each knowing its wire form.

TollwayError
├── InvalidRequest                400 invalid_value
│   ├── ContextLengthExceeded     400 context_length_exceeded
│   └── UpstreamBadRequest        400 upstream_bad_request or the provider's code (it refused
│                                     a request we accepted)
├── RequestTimeout                408 request_timeout (the client sent its body too slowly)
├── PayloadTooLarge               413 payload_too_large
├── AuthenticationFailed          401 invalid_api_key
├── PermissionDenied              403 model_not_allowed
│   └── PolicyRefused             403 policy_refused (an endpoint refused by policy)
├── ModelNotFound                 404 model_not_found
├── NotFound                      404 not_found (admin resources)
├── Conflict                      409 conflict (admin writes that lost a compare-and-set)
├── RateLimited                   429 rate_limit_exceeded (Retry-After)
├── BudgetExceeded                429 insufficient_quota (x-should-retry: false)
├── UpstreamRateLimited           429 upstream_rate_limited (upstream Retry-After passed on)
├── InternalError                 500 internal_error
├── LimitsUnavailable             503 limits_unavailable (Redis down, limits set to fail closed)
├── UpstreamAuthFailed            502 upstream_auth_failed (x-should-retry: false)
├── UpstreamUnavailable           502 upstream_error
│   ├── UpstreamUnreachable       502 upstream_error (could not connect at all)
│   └── UpstreamOverloaded        502 upstream_overloaded (the provider said overloaded, 529;
│                                     Messages clients get it as 529 overloaded_error)
├── RouterLost                    502 router_lost
├── NoRouterAvailable             503 no_responders
└── UpstreamTimeout               504 upstream_timeout

`retryable` says whether a client should try again; `should_retry_header` is sent as
`x-should-retry` where the OpenAI SDK would otherwise retry a status it must not.
docs/errors.md has a row for each (tests/unit/test_errors_doc.py checks it and this tree).
"""

from __future__ import annotations

from typing import ClassVar

from tollway_common.openai_errors import OpenAIErrorBody, error_headers


class TollwayError(Exception):
    status: ClassVar[int] = 500
    type: ClassVar[str] = "server_error"
    code: ClassVar[str] = "internal_error"
    retryable: ClassVar[bool] = True
    should_retry_header: ClassVar[bool | None] = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code_override = code
        self.retry_after = retry_after
        self.extra_headers = headers or {}

    def body(self) -> OpenAIErrorBody:
        return OpenAIErrorBody(
            message=self.message,
            type=self.type,
            param=self.param,
            code=self.code_override or self.code,
        )

    def headers(self) -> dict[str, str]:
        return error_headers(self.retry_after, self.should_retry_header, self.extra_headers)


class InvalidRequest(TollwayError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_value"
    retryable = False


class ContextLengthExceeded(InvalidRequest):
    code = "context_length_exceeded"


class UpstreamBadRequest(InvalidRequest):
    code = "upstream_bad_request"


class RequestTimeout(TollwayError):
    status = 408
    type = "invalid_request_error"
    code = "request_timeout"
    retryable = True


class PayloadTooLarge(TollwayError):
    status = 413
    type = "invalid_request_error"
    code = "payload_too_large"
    retryable = False


class AuthenticationFailed(TollwayError):
    status = 401
    type = "invalid_request_error"
    code = "invalid_api_key"
    retryable = False


class PermissionDenied(TollwayError):
    status = 403
    type = "permission_error"
    code = "model_not_allowed"
    retryable = False


class PolicyRefused(PermissionDenied):
    code = "policy_refused"


class NotFound(TollwayError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"
    retryable = False


class Conflict(TollwayError):
    status = 409
    type = "invalid_request_error"
    code = "conflict"
    retryable = False


class ModelNotFound(TollwayError):
    status = 404
    type = "invalid_request_error"
    code = "model_not_found"
    retryable = False


class RateLimited(TollwayError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


class BudgetExceeded(TollwayError):
    status = 429
    type = "insufficient_quota"
    code = "insufficient_quota"
    retryable = False
    should_retry_header = False


class UpstreamRateLimited(TollwayError):
    status = 429
    type = "rate_limit_error"
    code = "upstream_rate_limited"


class InternalError(TollwayError):
    status = 500
    type = "server_error"
    code = "internal_error"


class LimitsUnavailable(TollwayError):
    status = 503
    type = "server_error"
    code = "limits_unavailable"


class UpstreamAuthFailed(TollwayError):
    status = 502
    type = "server_error"
    code = "upstream_auth_failed"
    retryable = False
    should_retry_header = False


class UpstreamUnavailable(TollwayError):
    status = 502
    type = "server_error"
    code = "upstream_error"


class UpstreamUnreachable(UpstreamUnavailable):
    """The connection never came up: safe to retry elsewhere, nothing reached the provider."""


class UpstreamOverloaded(UpstreamUnavailable):
    """The provider is overloaded (Anthropic's 529): retryable elsewhere like any 5xx."""

    code = "upstream_overloaded"


class RouterLost(TollwayError):
    status = 502
    type = "server_error"
    code = "router_lost"


class NoRouterAvailable(TollwayError):
    status = 503
    type = "server_error"
    code = "no_responders"


class UpstreamTimeout(TollwayError):
    status = 504
    type = "server_error"
    code = "upstream_timeout"
