"""Admission applies the caller's policy to a request's facts and bounds an uncapped request by
the cap."""

from __future__ import annotations

from typing import Any

import pytest

from tollway_common.contract import Endpoint, Principal, RequestFacts
from tollway_common.control import Policy
from tollway_common.errors import InvalidRequest, PermissionDenied, PolicyRefused
from tollway_edge.admission import admit
from tollway_edge.auth import Caller
from tollway_edge.policy import Level
from tollway_edge.request_facts import read_facts

CALLER = Caller(
    principal=Principal(key_id="key_1"),
    levels=(
        Level("key 'app'", Policy(allow_models=["demo"], max_tokens_cap=256)),
        Level("org 'o'", Policy(deny_endpoints=["embeddings"])),
    ),
)


def _chat(**extra: Any) -> RequestFacts:
    body = {"model": "demo", "messages": [{"role": "user", "content": "hi"}], **extra}
    return read_facts(Endpoint.CHAT_COMPLETIONS, body)


def test_a_request_without_max_tokens_is_bounded_by_the_cap() -> None:
    asked = _chat()
    assert admit(CALLER, Endpoint.CHAT_COMPLETIONS, "demo", asked) == RequestFacts(
        max_tokens=256, prompt_tokens=asked.prompt_tokens
    )


def test_completions_are_bounded_by_the_cap_too() -> None:
    asked = read_facts(Endpoint.COMPLETIONS, {"model": "demo", "prompt": "hi"})
    assert admit(CALLER, Endpoint.COMPLETIONS, "demo", asked).max_tokens == 256


def test_a_request_under_the_cap_keeps_its_own_bound() -> None:
    asked = _chat(max_tokens=100)
    assert admit(CALLER, Endpoint.CHAT_COMPLETIONS, "demo", asked) == asked


def test_a_request_above_the_cap_is_a_400_naming_the_rule() -> None:
    with pytest.raises(InvalidRequest, match=r"rule: key 'app' max_tokens cap") as refused:
        admit(CALLER, Endpoint.CHAT_COMPLETIONS, "demo", _chat(max_tokens=1000))
    assert refused.value.param == "max_completion_tokens"
    assert refused.value.status == 400


def test_a_second_token_field_above_the_cap_is_refused_too() -> None:
    # Both fields go upstream, which may honour either: the larger one is held to the cap.
    asked = _chat(max_completion_tokens=10, max_tokens=1000)
    with pytest.raises(InvalidRequest, match=r"max_tokens 1000 is above the key 'app' cap"):
        admit(CALLER, Endpoint.CHAT_COMPLETIONS, "demo", asked)


def test_a_prompt_above_the_prompt_cap_is_a_400_on_messages() -> None:
    caller = Caller(Principal(key_id="k"), (Level("team 't'", Policy(max_prompt_tokens=2)),))
    asked = _chat(messages=[{"role": "user", "content": "x" * 40}])
    with pytest.raises(InvalidRequest, match=r"about 10 tokens") as refused:
        admit(caller, Endpoint.CHAT_COMPLETIONS, "demo", asked)
    assert refused.value.param == "messages"


def test_a_model_outside_the_allow_list_is_a_403_naming_the_rule() -> None:
    with pytest.raises(PermissionDenied, match=r"rule: key 'app' model policy") as refused:
        admit(CALLER, Endpoint.CHAT_COMPLETIONS, "other", _chat(model="other"))
    assert refused.value.status == 403
    assert refused.value.body().code == "model_not_allowed"


def test_a_denied_endpoint_is_a_403() -> None:
    with pytest.raises(PolicyRefused, match="embeddings"):
        admit(CALLER, Endpoint.EMBEDDINGS, "demo", RequestFacts())


def test_a_caller_without_policy_is_left_alone() -> None:
    asked = _chat()
    caller = Caller(principal=Principal(key_id="k"), levels=())
    assert admit(caller, Endpoint.CHAT_COMPLETIONS, "demo", asked) is asked


def test_n_answers_count_against_the_cap() -> None:
    # Each of n answers may use max_tokens: 2 x 200 is above a cap of 256.
    with pytest.raises(InvalidRequest, match=r"n 2 answers of max_tokens 200") as refused:
        admit(CALLER, Endpoint.CHAT_COMPLETIONS, "demo", _chat(max_tokens=200, n=2))
    assert refused.value.param == "n"
    assert admit(CALLER, Endpoint.CHAT_COMPLETIONS, "demo", _chat(max_tokens=128, n=2))


def test_n_answers_without_a_bound_share_the_cap() -> None:
    facts = admit(CALLER, Endpoint.CHAT_COMPLETIONS, "demo", _chat(n=4))
    assert (facts.max_tokens, facts.answers, facts.output_tokens) == (64, 4, 256)


def test_completions_count_max_tokens_and_best_of_against_the_cap() -> None:
    def completion(**extra: Any) -> RequestFacts:
        return read_facts(Endpoint.COMPLETIONS, {"model": "demo", "prompt": "hi", **extra})

    with pytest.raises(InvalidRequest, match=r"max_tokens 1000 is above") as refused:
        admit(CALLER, Endpoint.COMPLETIONS, "demo", completion(max_tokens=1000))
    assert refused.value.param == "max_tokens"
    # best_of candidates are generated (and billed) though only n come back.
    with pytest.raises(InvalidRequest, match=r"n 4 answers of max_tokens 100"):
        admit(CALLER, Endpoint.COMPLETIONS, "demo", completion(max_tokens=100, n=1, best_of=4))
    # A field completions do not honour bounds nothing there, and is not counted.
    assert (
        admit(
            CALLER, Endpoint.COMPLETIONS, "demo", completion(max_completion_tokens=10_000)
        ).max_tokens
        == 256
    )


def test_the_widest_levels_rules_hold_over_a_wide_open_key() -> None:
    caller = Caller(
        principal=Principal(key_id="key_1"),
        levels=(
            Level("key 'mine'", Policy(allow_models=["*"], max_tokens_cap=1_000_000)),
            Level("team 't'", Policy()),
            Level("org 'o'", Policy(deny_models=["big"], max_tokens_cap=16)),
        ),
    )
    with pytest.raises(PermissionDenied, match=r"rule: org 'o' model policy"):
        admit(caller, Endpoint.CHAT_COMPLETIONS, "big", _chat(model="big"))
    with pytest.raises(InvalidRequest, match=r"rule: org 'o' max_tokens cap"):
        admit(caller, Endpoint.CHAT_COMPLETIONS, "demo", _chat(max_tokens=17))
    assert admit(caller, Endpoint.CHAT_COMPLETIONS, "demo", _chat()).max_tokens == 16
