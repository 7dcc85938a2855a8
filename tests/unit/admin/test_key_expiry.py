from __future__ import annotations

from tollway_admin.key_expiry import expiry_refusal
from tollway_common.control import KeyRecord

_KEY = KeyRecord(key_id="key_a", key_hash="a" * 64, prefix="sk-tollway", name="k")


def test_a_live_key_may_get_any_expiry() -> None:
    assert expiry_refusal(_KEY, 0) is None
    assert expiry_refusal(_KEY, 10**10) is None


def test_a_rotated_key_may_only_end_earlier() -> None:
    rotated = _KEY.model_copy(update={"rotated_to": "key_new", "expires_at": 1000})
    assert expiry_refusal(rotated, 900) is None
    assert expiry_refusal(rotated, 1000) is None
    assert expiry_refusal(rotated, 0) is not None
    assert expiry_refusal(rotated, 1001) is not None


def test_a_revoked_key_keeps_its_expiry() -> None:
    revoked = _KEY.model_copy(update={"revoked_at": 5})
    assert expiry_refusal(revoked, 1) is not None
