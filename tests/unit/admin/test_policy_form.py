from __future__ import annotations

import pytest

from tollway_admin.ui.form_values import FieldErrors
from tollway_admin.ui.policy_form import policy_text, policy_values, with_policy
from tollway_common.control import Limits, Policy, TeamRecord

TEAM = TeamRecord(
    team_id="ml",
    org_id="acme",
    name="ML",
    limits=Limits(rpm=100, max_parallel=4),
    budget_ids=["monthly"],
    created_at=7,
)


def test_the_form_sets_the_policy_and_rates_and_keeps_the_rest() -> None:
    edited = with_policy(
        TEAM,
        {
            "name": "Machine learning",
            "allow_models": "gpt-4o*, claude-*",
            "deny_models": "gpt-4o-realtime",
            "allow_endpoints": "",
            "deny_endpoints": "images_generations",
            "max_tokens_cap": "4096",
            "max_prompt_tokens": "",
            "log_bodies": "on",
            "rpm": "60",
            "tpm": "",
        },
    )
    assert edited == TEAM.model_copy(
        update={
            "name": "Machine learning",
            "policy": Policy(
                allow_models=["gpt-4o*", "claude-*"],
                deny_models=["gpt-4o-realtime"],
                deny_endpoints=["images_generations"],
                max_tokens_cap=4096,
                log_bodies=True,
            ),
            "limits": Limits(rpm=60, max_parallel=4),
        }
    )


def test_a_stored_policy_round_trips_through_the_form() -> None:
    team = TEAM.model_copy(
        update={"policy": Policy(allow_models=["a"], max_prompt_tokens=10, log_bodies=False)}
    )
    assert with_policy(team, policy_values(team)) == team


def test_bad_values_are_reported_next_to_their_fields() -> None:
    with pytest.raises(FieldErrors) as caught:
        with_policy(
            TEAM, {"max_tokens_cap": "0", "rpm": "fast", "log_bodies": "sometimes", "tpm": "1"}
        )
    assert set(caught.value.errors) == {"log_bodies", "rpm"}  # field checks first
    with pytest.raises(FieldErrors) as caught:
        with_policy(TEAM, {"max_tokens_cap": "0", "rpm": "fast"})
    assert set(caught.value.errors) == {"max_tokens_cap", "rpm"}
    with pytest.raises(FieldErrors) as caught:
        with_policy(TEAM, {"tpm": "-3"})
    assert set(caught.value.errors) == {"tpm"}


def test_a_policy_reads_as_one_line() -> None:
    assert policy_text(Policy()) == "—"
    assert policy_text(Policy(allow_models=["gpt-4o*"], max_tokens_cap=100)) == (
        "models gpt-4o*; ≤ 100 tokens"
    )
