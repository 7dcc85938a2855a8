from __future__ import annotations

import orjson
import pytest

from tollway_common import errors
from tollway_common.openai_errors import render_error

EXPECTED = {
    errors.InvalidRequest: (400, "invalid_request_error", "invalid_value"),
    errors.ContextLengthExceeded: (400, "invalid_request_error", "context_length_exceeded"),
    errors.PayloadTooLarge: (413, "invalid_request_error", "payload_too_large"),
    errors.AuthenticationFailed: (401, "invalid_request_error", "invalid_api_key"),
    errors.PermissionDenied: (403, "permission_error", "model_not_allowed"),
    errors.ModelNotFound: (404, "invalid_request_error", "model_not_found"),
    errors.RateLimited: (429, "rate_limit_error", "rate_limit_exceeded"),
    errors.BudgetExceeded: (429, "insufficient_quota", "insufficient_quota"),
    errors.UpstreamRateLimited: (429, "rate_limit_error", "upstream_rate_limited"),
    errors.InternalError: (500, "server_error", "internal_error"),
    errors.UpstreamAuthFailed: (502, "server_error", "upstream_auth_failed"),
    errors.UpstreamUnavailable: (502, "server_error", "upstream_error"),
    errors.RouterLost: (502, "server_error", "router_lost"),
    errors.NoRouterAvailable: (503, "server_error", "no_responders"),
    errors.UpstreamTimeout: (504, "server_error", "upstream_timeout"),
}


@pytest.mark.parametrize(("cls", "wire"), EXPECTED.items())
def test_each_error_has_its_status_type_and_code(
    cls: type[errors.TollwayError], wire: tuple[int, str, str]
) -> None:
    exc = cls("what went wrong", param="model")
    assert (exc.status, exc.type, exc.code) == wire
    assert orjson.loads(render_error(exc.body())) == {
        "error": {"message": "what went wrong", "type": wire[1], "param": "model", "code": wire[2]}
    }


def test_never_409_because_sdks_retry_it() -> None:
    assert all(cls.status != 409 for cls in EXPECTED)


def test_errors_the_sdk_must_not_retry_say_so() -> None:
    assert errors.BudgetExceeded("over").headers() == {"x-should-retry": "false"}
    assert errors.UpstreamAuthFailed("bad secret").headers() == {"x-should-retry": "false"}


def test_retry_after_is_whole_seconds() -> None:
    assert errors.UpstreamRateLimited("slow down", retry_after=6.6).headers() == {
        "retry-after": "7"
    }
