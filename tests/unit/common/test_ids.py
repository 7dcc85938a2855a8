from __future__ import annotations

import uuid

from tollway_common.ids import new_request_id, usage_msg_id


def test_request_ids_are_uuid7_and_sort_by_time() -> None:
    ids = [new_request_id() for _ in range(200)]
    assert all(uuid.UUID(value).version == 7 for value in ids)
    assert len(set(ids)) == len(ids)
    prefixes = [value[:13] for value in ids]
    assert prefixes == sorted(prefixes)


def test_usage_message_id_is_stable_per_request() -> None:
    assert usage_msg_id("abc") == usage_msg_id("abc") != usage_msg_id("abd")
