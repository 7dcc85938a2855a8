"""Admission applies the caller's policy to a request and fills in a capped max_tokens."""

from __future__ import annotations

from typing import Any

import pytest

from tollway_common.contract import Endpoint, Principal
from tollway_common.control import Policy
from tollway_common.errors import InvalidRequest, PermissionDenied, PolicyRefused
from tollway_edge.admission import admit
from tollway_edge.auth import Caller
from tollway_edge.policy import Level

CALLER = Caller(
    principal=Principal(key_id="key_1"),
    levels=(
        Level("key 'app'", Policy(allow_models=["demo"], max_tokens_cap=256)),
        Level("org 'o'", Policy(deny_endpoints=["embeddings"])),
    ),
)


def _chat(**extra: Any) -> dict[str, Any]:
    return {"model": "demo", "messages": [{"role": "user", "content": "hi"}], **extra}


def test_a_request_without_max_tokens_gets_the_cap() -> None:
    body = _chat()
    admit(CALLER, Endpoint.CHAT_COMPLETIONS, "demo", body)
    assert body["max_completion_tokens"] == 256


def test_completions_get_the_cap_as_max_tokens() -> None:
    body: dict[str, Any] = {"model": "demo", "prompt": "hi"}
    admit(CALLER, Endpoint.COMPLETIONS, "demo", body)
    assert body["max_tokens"] == 256


def test_a_request_above_the_cap_is_a_400_naming_the_rule() -> None:
    with pytest.raises(InvalidRequest, match=r"rule: key 'app' max_tokens cap") as refused:
        admit(CALLER, Endpoint.CHAT_COMPLETIONS, "demo", _chat(max_tokens=1000))
    assert refused.value.param == "max_completion_tokens"
    assert refused.value.status == 400


def test_a_model_outside_the_allow_list_is_a_403_naming_the_rule() -> None:
    with pytest.raises(PermissionDenied, match=r"rule: key 'app' model policy") as refused:
        admit(CALLER, Endpoint.CHAT_COMPLETIONS, "other", _chat(model="other"))
    assert refused.value.status == 403
    assert refused.value.body().code == "model_not_allowed"


def test_a_denied_endpoint_is_a_403() -> None:
    with pytest.raises(PolicyRefused, match="embeddings"):
        admit(CALLER, Endpoint.EMBEDDINGS, "demo", {"model": "demo", "input": "x"})


def test_a_caller_without_policy_is_left_alone() -> None:
    body = _chat()
    admit(
        Caller(principal=Principal(key_id="k"), levels=()), Endpoint.CHAT_COMPLETIONS, "demo", body
    )
    assert "max_completion_tokens" not in body
