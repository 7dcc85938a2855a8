from __future__ import annotations

from tollway_common.contract import DeploymentHealth, HealthState
from tollway_router.routing.health import USABLE, availability


def _record(state: HealthState, **fields: int | str) -> DeploymentHealth:
    return DeploymentHealth.model_validate(
        {"alias": "m", "deployment": "d", "state": state, **fields}
    )


def test_no_record_or_an_active_one_is_usable() -> None:
    assert availability(None, 0, 300) == USABLE
    assert availability(_record(HealthState.ACTIVE, reason="recovered"), 0, 300) == USABLE


def test_inactive_is_never_usable_and_says_why() -> None:
    found = availability(_record(HealthState.INACTIVE, reason="disabled by ops"), 10**13, 300)
    assert not found.usable
    assert found.reason == "disabled by ops"
    assert found.retry_after_s is None


def test_rate_limited_waits_until_its_time_then_is_probed() -> None:
    record = _record(HealthState.RATE_LIMITED, until_ms=10_000)
    waiting = availability(record, 7_500, 300)
    assert (waiting.usable, waiting.retry_after_s) == (False, 2.5)
    after = availability(record, 10_000, 300)
    assert (after.usable, after.probe) == (True, True)


def test_invalid_rests_for_the_probe_period_then_is_probed() -> None:
    record = _record(HealthState.INVALID, updated_at_ms=1_000)
    resting = availability(record, 61_000, 300)
    assert (resting.usable, resting.retry_after_s) == (False, 240.0)
    probed = availability(record, 301_000, 300)
    assert (probed.usable, probed.probe, probed.state) == (True, True, HealthState.INVALID)
