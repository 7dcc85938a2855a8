from __future__ import annotations

import pytest
from starlette.datastructures import Headers

from tollway_common.control import KeyRecord, Policy, hash_key
from tollway_edge.auth import presented_key, principal_of


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"authorization": "Bearer sk-1"}, "sk-1"),
        ({"authorization": "bearer  sk-2 "}, "sk-2"),
        ({"api-key": "sk-azure"}, "sk-azure"),
        ({"x-api-key": "sk-anthropic"}, "sk-anthropic"),
        ({"authorization": "Basic abc"}, None),
        ({}, None),
    ],
)
def test_key_is_read_from_the_headers_clients_use(
    headers: dict[str, str], expected: str | None
) -> None:
    assert presented_key(Headers(headers)) == expected


RECORD = KeyRecord(
    key_id="key_1",
    name="app",
    key_hash=hash_key("sk-x"),
    prefix="sk-x",
    policy=Policy(allow_models=["a"]),
    team_id="t",
)


def test_principal_carries_the_keys_ownership() -> None:
    principal = principal_of(RECORD)
    assert (principal.key_id, principal.key_name, principal.team_id) == ("key_1", "app", "t")
