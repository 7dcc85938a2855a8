"""Anthropic Messages bodies at the edge: the head check, and the facts limits and policies act
on (max_tokens with the thinking budget inside it, the prompt estimate, the anthropic-beta
values), so Messages requests are capped, reserved and billed as chat requests are."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tollway_common.contract import Endpoint, Principal, RequestFacts
from tollway_common.control import Policy
from tollway_common.errors import InvalidRequest
from tollway_edge.admission import admit
from tollway_edge.auth import Caller
from tollway_edge.body import parse_body
from tollway_edge.policy import Level
from tollway_edge.request_facts import read_betas, read_facts, upstream_body

HI = [{"role": "user", "content": "x" * 40}]
BAD_BUDGET = {"type": "enabled", "budget_tokens": "a lot"}


def _parsed(endpoint: Endpoint, body: dict[str, Any]) -> dict[str, Any]:
    parsed, _ = parse_body(orjson.dumps(body), endpoint)
    return parsed


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({}, "max_tokens"),
        ({"max_tokens": "100"}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 10, "stream": "yes"}, "stream"),
        (
            {"max_tokens": 10, "thinking": {"type": "enabled", "budget_tokens": "a lot"}},
            "thinking.budget_tokens",
        ),
        ({"max_tokens": 10, "metadata": {"user_id": 7}}, "metadata.user_id"),
        ({"max_tokens": 10, "system": 3}, "system"),
        ({"max_tokens": 10, "messages": []}, "messages"),
    ],
)
def test_a_messages_body_the_api_would_refuse_is_a_400_naming_the_field(
    fields: dict[str, Any], param: str
) -> None:
    body = {"model": "claude", "messages": HI, **fields}
    with pytest.raises(InvalidRequest) as refused:
        parse_body(orjson.dumps(body), Endpoint.MESSAGES)
    assert refused.value.param == param


def test_count_tokens_takes_no_max_tokens() -> None:
    body = _parsed(Endpoint.MESSAGES_COUNT_TOKENS, {"model": "claude", "messages": HI})
    assert read_facts(Endpoint.MESSAGES_COUNT_TOKENS, body) == RequestFacts(prompt_tokens=10)


@pytest.mark.parametrize(
    ("thinking", "expected"),
    [
        (None, 1000),
        ({"type": "enabled", "budget_tokens": 600}, 1000),
        # Anthropic refuses a budget above max_tokens, but a cap must see the larger number.
        ({"type": "enabled", "budget_tokens": 4000}, 4000),
        ({"type": "adaptive"}, 1000),
    ],
)
def test_max_tokens_bounds_the_answer_with_the_thinking_budget_inside_it(
    thinking: dict[str, Any] | None, expected: int
) -> None:
    body: dict[str, Any] = {"model": "claude", "max_tokens": 1000, "messages": HI}
    if thinking is not None:
        body["thinking"] = thinking
    assert read_facts(Endpoint.MESSAGES, _parsed(Endpoint.MESSAGES, body)).max_tokens == expected


def test_output_config_effort_adds_no_tokens() -> None:
    body = {"model": "claude", "max_tokens": 1000, "messages": HI}
    effort = {**body, "output_config": {"effort": "high"}}
    assert read_facts(Endpoint.MESSAGES, effort) == read_facts(Endpoint.MESSAGES, body)


def test_the_prompt_estimate_counts_system_turns_and_tools_but_not_signatures_or_data() -> None:
    body = {
        "model": "claude",
        "max_tokens": 10,
        "system": [{"type": "text", "text": "s" * 40}],
        "messages": [
            {"role": "user", "content": "u" * 40},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "t" * 40, "signature": "S" * 4000},
                    {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "r" * 40},
                    {"type": "image", "source": {"type": "base64", "data": "A" * 8000}},
                ],
            },
        ],
        "tools": [{"name": "f", "input_schema": {"type": "object"}}],
    }
    # 160 characters of text, the tool's name twice, its input and its schema as JSON.
    chars = 160 + 2 + len(b'{"a":1}') + len(b'{"type":"object"}')
    assert read_facts(Endpoint.MESSAGES, body).prompt_tokens == chars // 4


def test_anthropic_beta_values_are_read_as_a_list_and_bounded() -> None:
    assert read_betas(None) == ()
    assert read_betas(" a-1 ,b-2,, ") == ("a-1", "b-2")
    with pytest.raises(InvalidRequest):
        read_betas(",".join(f"beta-{i}" for i in range(33)))
    for bad in ("b" * 129, "a b", "caf\u00e9", "x;y"):
        with pytest.raises(InvalidRequest):
            read_betas(bad)
    body = {"model": "claude", "max_tokens": 10, "messages": HI}
    assert read_facts(Endpoint.MESSAGES, body, "x-1").betas == ("x-1",)


def test_a_policy_cap_refuses_a_messages_request_above_it_and_leaves_the_body_alone() -> None:
    caller = Caller(
        principal=Principal(key_id="k"),
        levels=(Level("key 'k'", Policy(max_tokens_cap=500)),),
    )
    body = {"model": "claude", "max_tokens": 400, "messages": HI}
    asked = read_facts(Endpoint.MESSAGES, body)
    decided = admit(caller, Endpoint.MESSAGES, "claude", asked)
    assert upstream_body(body, Endpoint.MESSAGES, asked, decided) is body
    over = {**body, "thinking": {"type": "enabled", "budget_tokens": 900}}
    with pytest.raises(InvalidRequest) as refused:
        admit(caller, Endpoint.MESSAGES, "claude", read_facts(Endpoint.MESSAGES, over))
    assert refused.value.param == "max_tokens"


def test_count_tokens_is_never_bounded_by_a_cap() -> None:
    caller = Caller(
        principal=Principal(key_id="k"),
        levels=(Level("key 'k'", Policy(max_tokens_cap=500)),),
    )
    body = {"model": "claude", "messages": HI}
    asked = read_facts(Endpoint.MESSAGES_COUNT_TOKENS, body)
    decided = admit(caller, Endpoint.MESSAGES_COUNT_TOKENS, "claude", asked)
    assert decided == asked
    assert upstream_body(body, Endpoint.MESSAGES_COUNT_TOKENS, asked, decided) is body
