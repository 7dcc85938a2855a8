"""The kinds of control-plane record admin manages: their bucket, KV key and public id."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel

from tollway_common import contract
from tollway_common.control import (
    Budget,
    KeyRecord,
    ModelAlias,
    OrgRecord,
    Price,
    TeamRecord,
    UserRecord,
    kv_key_for_alias,
)

R = TypeVar("R", bound=BaseModel)


@dataclass(frozen=True)
class Resource(Generic[R]):
    kind: str
    plural: str
    bucket: str
    record_type: type[R]
    kv_key: Callable[[R], str]
    public_id: Callable[[R], str]
    kv_key_for_id: Callable[[str], str]

    def decode(self, data: bytes) -> R:
        return self.record_type.model_validate_json(data)


def _same(value: str) -> str:
    return value


ORGS = Resource(
    "org", "orgs", contract.KV_ORGS, OrgRecord, lambda r: r.org_id, lambda r: r.org_id, _same
)
TEAMS = Resource(
    "team", "teams", contract.KV_TEAMS, TeamRecord, lambda r: r.team_id, lambda r: r.team_id, _same
)
USERS = Resource(
    "user", "users", contract.KV_USERS, UserRecord, lambda r: r.user_id, lambda r: r.user_id, _same
)
MODELS = Resource(
    "model",
    "models",
    contract.KV_MODELS,
    ModelAlias,
    lambda r: kv_key_for_alias(r.name),
    lambda r: r.name,
    kv_key_for_alias,
)
PRICES = Resource(
    "price",
    "prices",
    contract.KV_PRICES,
    Price,
    lambda r: kv_key_for_alias(r.model),
    lambda r: r.model,
    kv_key_for_alias,
)
BUDGETS = Resource(
    "budget",
    "budgets",
    contract.KV_BUDGETS,
    Budget,
    lambda r: r.budget_id,
    lambda r: r.budget_id,
    _same,
)
# Keys are stored under their hash, so the edge finds a presented key in one lookup; their
# public id (`key_<16 hex digits>`, looked up in admin's mirror) shows nothing of the hash.
KEYS = Resource(
    "key", "keys", contract.KV_KEYS, KeyRecord, lambda r: r.key_hash, lambda r: r.key_id, _same
)

ALL: tuple[Resource[BaseModel], ...] = (ORGS, TEAMS, USERS, MODELS, PRICES, BUDGETS, KEYS)  # type: ignore[assignment]


def new_key_id() -> str:
    """A key issued through the API: an id unrelated to its secret or hash."""
    return f"key_{secrets.token_hex(8)}"


def key_id_for_config_key(key_hash: str) -> str:
    """A key declared in a config file: the same id at every apply, so applying the file again
    updates the key instead of making another. Derived under its own label, so it is no prefix
    of the hash the edge looks keys up by (ids are shown in usage rows, logs and the UI)."""
    return "key_" + hashlib.sha256(b"tollway-key-id\0" + key_hash.encode()).hexdigest()[:16]
