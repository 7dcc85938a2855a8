"""Key ids show nothing of the key's hash (the edge looks keys up by that hash)."""

from __future__ import annotations

from tollway_admin.resources import key_id_for_config_key, new_key_id
from tollway_common.control import hash_key


def test_an_issued_key_id_is_unrelated_to_the_hash() -> None:
    ids = {new_key_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(key_id.startswith("key_") and len(key_id) == 20 for key_id in ids)


def test_a_config_key_keeps_its_id_across_applies_but_it_is_no_prefix_of_the_hash() -> None:
    digest = hash_key("tw-some-config-key-0123456789")
    key_id = key_id_for_config_key(digest)
    assert key_id == key_id_for_config_key(digest)
    assert key_id.removeprefix("key_") not in digest
    assert key_id != f"key_{digest[:16]}"
