"""Client sessions as Redis holds them: which count as live, and in what order they list."""

from __future__ import annotations

from tollway_common.contract import ClientSession
from tollway_edge.limits.sessions import index_key, listing, read_session, session_key, text

NOW = 1_800_000_000_000


def test_keys_carry_the_callers_hash_tag() -> None:
    assert session_key("org:acme", "key_1", "0123456789abcdef") == (
        "tw:{org:acme}:key:key_1:sess:0123456789abcdef"
    )
    assert index_key("org:acme", "key_1") == "tw:{org:acme}:key:key_1:sessions"


def test_a_session_counts_only_requests_not_yet_expired() -> None:
    fields = {
        "since": "1799999990000",
        "agent": "OpenAI/Python 2.8.1",
        "r:req-1": str(NOW + 1000),
        "r:req-2": str(NOW + 5000),
        "r:req-crashed": str(NOW - 1),
    }
    assert read_session("key_1", "c1", fields, NOW) == ClientSession(
        key_id="key_1",
        client="c1",
        user_agent="OpenAI/Python 2.8.1",
        since_ms=1_799_999_990_000,
        in_flight=2,
    )


def test_a_session_with_nothing_in_flight_has_ended() -> None:
    fields = {"since": "1", "agent": "curl/8", "r:old": str(NOW - 10), "revoked": str(NOW - 1)}
    assert read_session("key_1", "c1", fields, NOW) is None
    assert read_session("key_1", "c1", {}, NOW) is None


def test_a_revoked_session_lists_until_its_revocation_ends() -> None:
    fields = {"agent": "curl/8", "revoked": str(NOW + 60_000)}
    assert read_session("key_1", "c1", fields, NOW) == ClientSession(
        key_id="key_1", client="c1", user_agent="curl/8", revoked_until_ms=NOW + 60_000
    )


def test_the_busiest_sessions_list_first_then_the_oldest() -> None:
    old = ClientSession(key_id="k", client="a", since_ms=1, in_flight=1)
    new = ClientSession(key_id="k", client="b", since_ms=2, in_flight=1)
    busy = ClientSession(key_id="k", client="c", since_ms=3, in_flight=4)
    assert listing([new, None, old, busy]) == [busy, old, new]


def test_replies_read_as_text_decoded_or_not() -> None:
    assert (text(b"r:req-1"), text("r:req-1")) == ("r:req-1", "r:req-1")
