"""The models page's line of counts per health state."""

from __future__ import annotations

from tollway_admin.ui.pages.models import count_lines


def test_counts_name_only_the_states_something_is_in() -> None:
    counts = {
        "deployments": {"active": 3, "inactive": 0, "rate_limited": 1, "invalid": 0},
        "credentials": {"active": 0, "invalid": 0},
        "oauth_accounts": {"active": 1, "invalid": 1},
    }
    assert count_lines(counts) == [
        "deployments: 3 active, 1 rate limited",
        "oauth accounts: 1 active, 1 invalid",
    ]
