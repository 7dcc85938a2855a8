from __future__ import annotations

import pytest

from tollway_common.jwks_cache import JwksCache, JwksTimings, Step

TIMINGS = JwksTimings(ttl_s=3600, refresh_min_s=30, backoff_s=5, backoff_max_s=60)
FETCHED = JwksCache[str]().fetched({"k1": "key-1"}, now=1000, timings=TIMINGS)


def test_an_empty_cache_fetches() -> None:
    assert JwksCache[str]().step("k1", now=0, timings=TIMINGS) is Step.FETCH


def test_a_fresh_key_is_used() -> None:
    assert FETCHED.step("k1", now=1000 + 3599, timings=TIMINGS) is Step.USE


def test_a_stale_key_is_used_while_a_refresh_starts() -> None:
    assert FETCHED.step("k1", now=1000 + 3600, timings=TIMINGS) is Step.USE_AND_REFRESH


def test_an_unknown_key_id_fetches_once_per_refresh_window() -> None:
    assert FETCHED.step("k2", now=1000 + 29, timings=TIMINGS) is Step.REFUSE
    assert FETCHED.step("k2", now=1000 + 30, timings=TIMINGS) is Step.FETCH


def test_a_failure_keeps_the_keys_and_backs_off_doubling_to_the_most() -> None:
    cache = FETCHED
    waits = []
    for failed_at in (5000, 6000, 7000, 8000, 9000):
        cache = cache.failed("issuer down", now=failed_at, timings=TIMINGS)
        waits.append(cache.next_fetch_at - failed_at)
    assert waits == [5, 10, 20, 40, 60]
    assert cache.keys == {"k1": "key-1"}
    assert cache.step("k1", now=9000 + 1, timings=TIMINGS) is Step.USE, "no refresh yet"
    assert cache.step("k2", now=9000 + 1, timings=TIMINGS) is Step.REFUSE
    assert cache.step("k1", now=9000 + 60, timings=TIMINGS) is Step.USE_AND_REFRESH


def test_a_success_after_failures_starts_over() -> None:
    cache = FETCHED.failed("down", now=5000, timings=TIMINGS).failed("down", 6000, TIMINGS)
    cache = cache.fetched({"k2": "key-2"}, now=7000, timings=TIMINGS)
    assert cache == JwksCache({"k2": "key-2"}, fetched_at=7000, next_fetch_at=7030)


@pytest.mark.parametrize(
    ("cache", "reason"),
    [
        (FETCHED, "signed with key id 'k9', which the issuer does not publish"),
        (FETCHED.failed("timed out", 2000, TIMINGS), "could not be fetched: timed out"),
    ],
)
def test_the_refusal_says_why(cache: JwksCache[str], reason: str) -> None:
    assert reason in cache.refusal("k9")
