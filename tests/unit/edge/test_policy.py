"""Policy: levels combine as ceilings (allow lists intersect, deny lists add up, the smallest cap
wins, body logging turned on holds); refusals name their rule."""

from __future__ import annotations

import pytest

from tollway_common.contract import RequestFacts
from tollway_common.control import Policy
from tollway_edge.policy import (
    Level,
    cap_bound,
    cap_refusal,
    effective,
    endpoint_refusal,
    model_refusal,
)

ORG_DENIES_GPT4 = Level("org 'acme'", Policy(deny_models=["gpt-4*"]))
TEAM_ALLOWS_GPT4O = Level("team 'ml'", Policy(allow_models=["gpt-4o", "claude-*"]))
KEY_SILENT = Level("key 'ci'", Policy())
# What the security review's team-admin gave its own key.
KEY_WIDE_OPEN = Level(
    "key 'mine'", Policy(allow_models=["*"], max_tokens_cap=1_000_000, log_bodies=False)
)
ORG_STRICT = Level(
    "org 'acme'",
    Policy(allow_models=["small-*"], deny_models=["small-secret"], max_tokens_cap=16),
)


def test_no_levels_allow_everything() -> None:
    assert model_refusal(effective([]), "anything") is None


def test_a_wider_deny_holds_over_a_narrower_allow() -> None:
    refusal = model_refusal(effective([KEY_SILENT, TEAM_ALLOWS_GPT4O, ORG_DENIES_GPT4]), "gpt-4o")
    assert refusal is not None
    assert refusal.rule == "org 'acme' model policy"
    assert refusal.message == "The org 'acme' policy denies model 'gpt-4o'."


def test_wider_deny_applies_when_narrower_levels_have_no_opinion() -> None:
    refusal = model_refusal(effective([KEY_SILENT, ORG_DENIES_GPT4]), "gpt-4-turbo")
    assert refusal is not None
    assert refusal.rule == "org 'acme' model policy"


def test_an_allow_list_refuses_what_it_does_not_name() -> None:
    refusal = model_refusal(effective([TEAM_ALLOWS_GPT4O, ORG_DENIES_GPT4]), "llama3")
    assert refusal is not None
    assert refusal.rule == "team 'ml' model policy"
    assert "llama3" in refusal.message


def test_a_key_allowing_everything_reaches_only_what_its_org_allows() -> None:
    rules = effective([KEY_WIDE_OPEN, ORG_STRICT])
    assert model_refusal(rules, "small-fast") is None
    for model in ("big-model", "small-secret"):
        refusal = model_refusal(rules, model)
        assert refusal is not None
        assert refusal.rule == "org 'acme' model policy"


def test_allow_lists_intersect_down_the_levels() -> None:
    team = Level("team 'ml'", Policy(allow_models=["gpt-*", "claude-*"]))
    org = Level("org 'acme'", Policy(allow_models=["gpt-4o", "claude-*", "llama3"]))
    rules = effective([team, org])
    assert model_refusal(rules, "gpt-4o") is None
    assert model_refusal(rules, "claude-haiku") is None
    assert model_refusal(rules, "gpt-3.5-turbo") is not None, "the org does not allow it"
    assert model_refusal(rules, "llama3") is not None, "the team does not allow it"


def test_deny_lists_add_up() -> None:
    key = Level("key 'k'", Policy(deny_models=["o1*"]))
    rules = effective([key, ORG_DENIES_GPT4])
    assert model_refusal(rules, "o1-mini") is not None
    assert model_refusal(rules, "gpt-4o") is not None
    assert model_refusal(rules, "claude-haiku") is None


def test_an_empty_allow_list_allows_nothing() -> None:
    refusal = model_refusal(effective([Level("team 't'", Policy(allow_models=[]))]), "m")
    assert refusal is not None
    assert refusal.message == "The team 't' policy does not allow model 'm'."


def test_deny_wins_within_one_level() -> None:
    rules = effective([Level("key 'k'", Policy(allow_models=["*"], deny_models=["o1*"]))])
    assert model_refusal(rules, "o1-mini") is not None
    assert model_refusal(rules, "gpt-4o") is None


def test_endpoints_follow_the_same_rules() -> None:
    key = Level("key 'k'", Policy(allow_endpoints=["*"]))
    org = Level("org 'o'", Policy(allow_endpoints=["chat_completions"]))
    refusal = endpoint_refusal(effective([key, org]), "embeddings")
    assert refusal is not None
    assert refusal.rule == "org 'o' endpoint policy"
    assert endpoint_refusal(effective([key, org]), "chat_completions") is None


@pytest.mark.parametrize(
    ("max_tokens", "prompt_tokens", "rule"),
    [
        (10, 10, None),
        (None, 10, None),
        (11, 10, "team 't' max_tokens cap"),
        (100, 10, "team 't' max_tokens cap"),
        (10, 51, "team 't' prompt size cap"),
    ],
)
def test_the_smallest_cap_wins_whichever_level_sets_it(
    max_tokens: int | None, prompt_tokens: int, rule: str | None
) -> None:
    key = Level("key 'k'", Policy(max_tokens_cap=100, max_prompt_tokens=1000))
    team = Level("team 't'", Policy(max_tokens_cap=10, max_prompt_tokens=50))
    facts = RequestFacts(max_tokens=max_tokens, prompt_tokens=prompt_tokens)
    refusal = cap_refusal(effective([key, team]), facts)
    assert (refusal.rule if refusal else None) == rule
    assert refusal is None or refusal.is_cap


def test_a_key_cap_above_its_orgs_is_held_to_the_orgs() -> None:
    refusal = cap_refusal(effective([KEY_WIDE_OPEN, ORG_STRICT]), RequestFacts(max_tokens=1000))
    assert refusal is not None
    assert refusal.rule == "org 'acme' max_tokens cap"
    assert refusal.message == (
        "max_tokens 1000 is above the org 'acme' cap of 16; ask for 16 or fewer."
    )


def test_the_cap_bounds_all_n_answers_together() -> None:
    rules = effective([Level("key 'k'", Policy(max_tokens_cap=100))])
    assert cap_refusal(rules, RequestFacts(max_tokens=25, answers=4)) is None
    refusal = cap_refusal(rules, RequestFacts(max_tokens=30, answers=4))
    assert refusal is not None
    assert refusal.about == "n"
    assert refusal.message == (
        "n 4 answers of max_tokens 30 (120 tokens) is above the key 'k' cap of 100; "
        "ask for 25 or fewer each, or fewer answers."
    )


def test_a_request_naming_no_bound_shares_the_cap_among_its_answers() -> None:
    rules = effective([Level("key 'k'", Policy(max_tokens_cap=100))])
    assert cap_bound(rules, RequestFacts(answers=3)) == 33
    assert cap_bound(rules, RequestFacts()) == 100
    refusal = cap_refusal(rules, RequestFacts(answers=101))
    assert refusal is not None
    assert refusal.about == "n"
    assert cap_bound(effective([KEY_SILENT]), RequestFacts(answers=3)) is None


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        ([], None),
        ([KEY_SILENT], None),
        ([KEY_SILENT, Level("org 'acme'", Policy(log_bodies=True))], True),
        ([Level("key 'ci'", Policy(log_bodies=False))], False),
        # A narrower level cannot turn off the logging a wider one asks for.
        (
            [Level("key 'ci'", Policy(log_bodies=False)), Level("org", Policy(log_bodies=True))],
            True,
        ),
        (
            [Level("key 'ci'", Policy(log_bodies=False)), Level("team", Policy(log_bodies=True))],
            True,
        ),
        (
            [Level("key 'ci'", Policy(log_bodies=True)), Level("org", Policy(log_bodies=False))],
            True,
        ),
    ],
)
def test_body_logging_turned_on_at_any_level_holds(
    levels: list[Level], expected: bool | None
) -> None:
    assert effective(levels).log_bodies is expected
