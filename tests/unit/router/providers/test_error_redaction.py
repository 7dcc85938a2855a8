"""Upstream error text reaches clients only with the gateway's credentials taken out."""

from __future__ import annotations

import pytest

from tollway_common.errors import UpstreamBadRequest
from tollway_router.providers.errors import ErrorDetail, classify, redact, scrub

SECRET = "azure-0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Incorrect API key provided: sk-proj-AbCdEf0123456789xyz.", "provided: [redacted]."),
        ("header was Authorization: Bearer abc.def-ghi_jkl0123", "Bearer [redacted]"),
        ('{"api_key": "0123456789abcdef"}', '{"api_key": "[redacted]"}'),
        ("token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl expired", "token [redacted]"),
        ("key=tw-Zm9vYmFyYmF6cXV4cXV1eA", "key=[redacted]"),
    ],
)
def test_credential_shaped_text_is_redacted(text: str, shown: str) -> None:
    assert shown in redact(text)


def test_ordinary_messages_are_left_alone() -> None:
    text = "The model 'gpt-4o' does not support max_tokens above 16384; use max_completion_tokens."
    assert redact(text) == text


def test_the_ladder_redacts_the_providers_text() -> None:
    error = classify(400, ErrorDetail("invalid x-api-key: sk-ant-api03-AAAAAAAAAAAAAAAAAAAA"), "up")
    assert isinstance(error, UpstreamBadRequest)
    assert "sk-ant" not in error.message
    assert "[redacted]" in error.message


def test_scrub_takes_out_the_deployments_own_secret_whatever_its_shape() -> None:
    error = classify(500, ErrorDetail(f"deployment key {SECRET} is over quota"), "upstream")
    assert SECRET in error.message, "not credential-shaped by itself"
    assert SECRET not in scrub(error, [SECRET, "short"]).message
    assert error.message == "upstream: deployment key [redacted] is over quota"
