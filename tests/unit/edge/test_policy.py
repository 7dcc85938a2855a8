"""Policy: the narrowest level with an opinion wins; refusals name their rule."""

from __future__ import annotations

import pytest

from tollway_common.control import Policy
from tollway_edge.policy import (
    Level,
    body_logging,
    cap_refusal,
    endpoint_refusal,
    model_refusal,
)

ORG_DENIES_GPT4 = Level("org 'acme'", Policy(deny_models=["gpt-4*"]))
TEAM_ALLOWS_GPT4O = Level("team 'ml'", Policy(allow_models=["gpt-4o", "claude-*"]))
KEY_SILENT = Level("key 'ci'", Policy())


def test_no_levels_allow_everything() -> None:
    assert model_refusal([], "anything") is None


def test_narrower_allow_beats_wider_deny() -> None:
    assert model_refusal([KEY_SILENT, TEAM_ALLOWS_GPT4O, ORG_DENIES_GPT4], "gpt-4o") is None


def test_wider_deny_applies_when_narrower_levels_have_no_opinion() -> None:
    refusal = model_refusal([KEY_SILENT, ORG_DENIES_GPT4], "gpt-4-turbo")
    assert refusal is not None
    assert refusal.rule == "org 'acme' model policy"


def test_an_allow_list_refuses_what_it_does_not_name() -> None:
    refusal = model_refusal([TEAM_ALLOWS_GPT4O, ORG_DENIES_GPT4], "llama3")
    assert refusal is not None
    assert refusal.rule == "team 'ml' model policy"
    assert "llama3" in refusal.message


def test_deny_wins_within_one_level() -> None:
    level = Level("key 'k'", Policy(allow_models=["*"], deny_models=["o1*"]))
    assert model_refusal([level], "o1-mini") is not None
    assert model_refusal([level], "gpt-4o") is None


def test_endpoints_follow_the_same_rule() -> None:
    key = Level("key 'k'", Policy(allow_endpoints=["chat_completions"]))
    refusal = endpoint_refusal([key], "embeddings")
    assert refusal is not None
    assert refusal.rule == "key 'k' endpoint policy"
    assert endpoint_refusal([key], "chat_completions") is None


@pytest.mark.parametrize(
    ("max_tokens", "prompt_tokens", "rule"),
    [
        (100, 10, None),
        (None, 10, None),
        (101, 10, "key 'k' max_tokens cap"),
        (100, 51, "team 't' prompt size cap"),
    ],
)
def test_caps_come_from_the_narrowest_level_that_sets_them(
    max_tokens: int | None, prompt_tokens: int, rule: str | None
) -> None:
    key = Level("key 'k'", Policy(max_tokens_cap=100))
    team = Level("team 't'", Policy(max_tokens_cap=10, max_prompt_tokens=50))
    refusal = cap_refusal([key, team], max_tokens, prompt_tokens)
    assert (refusal.rule if refusal else None) == rule
    assert refusal is None or refusal.is_cap


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        ([], None),
        ([KEY_SILENT], None),
        ([KEY_SILENT, Level("org 'acme'", Policy(log_bodies=True))], True),
        (
            [Level("key 'ci'", Policy(log_bodies=False)), Level("org", Policy(log_bodies=True))],
            False,
        ),
    ],
)
def test_body_logging_follows_the_narrowest_level_with_an_opinion(
    levels: list[Level], expected: bool | None
) -> None:
    assert body_logging(levels) is expected
