"""Apply a declarative document (the config file, or `tollway apply -f`) to the control plane.

What the document declares is created or updated; records an earlier apply created and the
document no longer lists are deleted (`prune`). Records created through the admin API are never
pruned. A key revoked through the API stays revoked when the document is applied again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from tollway_admin.references import ControlState, new_problems
from tollway_admin.resources import (
    BUDGETS,
    KEYS,
    MODELS,
    ORGS,
    PRICES,
    TEAMS,
    USERS,
    Resource,
    key_id_for_config_key,
)
from tollway_admin.store import ControlStore
from tollway_common.config_file import BootstrapKey, TollwayConfig
from tollway_common.contract import AuditActor
from tollway_common.control import MANAGED_BY_CONFIG, KeyRecord, Price, hash_key, key_prefix
from tollway_common.errors import InvalidRequest
from tollway_common.secret_refs import SecretNotFound, SecretResolver

R = TypeVar("R", bound=BaseModel)
log = logging.getLogger(__name__)

_ORDER: tuple[Resource[Any], ...] = (MODELS, PRICES, BUDGETS, ORGS, TEAMS, USERS, KEYS)
# Set when a record is first written and kept by later applies.
_KEPT_FIELDS = ("created_at", "revoked_at", "rotated_to", "created_by")


@dataclass
class ApplyResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)


def _label(resource: Resource[Any], record: BaseModel) -> str:
    if isinstance(record, KeyRecord):
        return f"key {record.name} ({record.key_id})"
    return f"{resource.kind} {resource.public_id(record)}"


def price_version_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _key_record(key: BootstrapKey, secrets: SecretResolver, now: int) -> KeyRecord | None:
    prefix = ""
    if key.key_hash is not None:
        digest = key.key_hash
    else:
        assert key.secret is not None
        try:
            secret = secrets.resolve(key.secret)
        except SecretNotFound as exc:
            log.warning("key %r skipped: %s", key.name, exc)
            return None
        digest, prefix = hash_key(secret), key_prefix(secret)
    return KeyRecord(
        key_id=key_id_for_config_key(digest),
        name=key.name,
        key_hash=digest,
        prefix=prefix,
        user_id=key.user_id,
        team_id=key.team_id,
        org_id=key.org_id,
        created_at=now,
        created_by=MANAGED_BY_CONFIG,
        expires_at=key.expires_at,
        metadata=key.metadata,
        policy=key.effective_policy(),
        limits=key.limits,
        budget_ids=key.budget_ids,
        managed_by=MANAGED_BY_CONFIG,
    )


def _managed(record: BaseModel) -> BaseModel:
    return record.model_copy(update={"managed_by": MANAGED_BY_CONFIG})


def wanted_records(
    doc: TollwayConfig, secrets: SecretResolver, result: ApplyResult
) -> dict[str, dict[str, BaseModel]]:
    now = int(time.time())
    wanted: dict[str, dict[str, BaseModel]] = {resource.bucket: {} for resource in _ORDER}
    sections: list[tuple[Resource[Any], list[Any]]] = [
        (ORGS, doc.orgs),
        (TEAMS, doc.teams),
        (USERS, doc.users),
        (MODELS, doc.models),
        (PRICES, doc.prices),
        (BUDGETS, doc.budgets),
    ]
    for resource, records in sections:
        for record in records:
            wanted[resource.bucket][resource.public_id(record)] = _managed(record)
    for key in doc.keys:
        record = _key_record(key, secrets, now)
        if record is None:
            result.skipped.append(f"key {key.name}")
            continue
        wanted[KEYS.bucket][record.key_id] = record
    return wanted


def _pruned(doc: TollwayConfig, prune: bool) -> frozenset[str]:
    """The buckets whose config-made records the document replaces. A document without a `keys`
    section (what `export` writes: it never shows key hashes) leaves keys alone; `keys: []`
    removes them."""
    if not prune:
        return frozenset()
    buckets = {resource.bucket for resource in _ORDER}
    return frozenset(buckets if "keys" in doc.model_fields_set else buckets - {KEYS.bucket})


def _state_after(
    store: ControlStore, wanted: dict[str, dict[str, BaseModel]], pruned: frozenset[str]
) -> ControlState:
    def merged(resource: Resource[R]) -> dict[str, R]:
        items = {
            resource.public_id(record): record
            for record in store.all(resource)
            if not (
                resource.bucket in pruned and getattr(record, "managed_by", "") == MANAGED_BY_CONFIG
            )
        }
        items.update(wanted[resource.bucket])  # type: ignore[arg-type]
        return items

    return ControlState(
        orgs=merged(ORGS),
        teams=merged(TEAMS),
        users=merged(USERS),
        models=merged(MODELS),
        prices=merged(PRICES),
        budgets=merged(BUDGETS),
        keys=merged(KEYS),
    )


def _carry_over(existing: BaseModel, record: BaseModel) -> BaseModel:
    kept = {name: getattr(existing, name) for name in _KEPT_FIELDS if hasattr(existing, name)}
    if isinstance(existing, KeyRecord) and existing.prefix:
        kept["prefix"] = existing.prefix
    updated = record.model_copy(update=kept)
    if isinstance(existing, Price) and isinstance(updated, Price):
        same_prices = existing.model_copy(update={"version": ""}) == updated.model_copy(
            update={"version": "", "managed_by": existing.managed_by}
        )
        version = updated.version or (existing.version if same_prices else price_version_now())
        updated = updated.model_copy(update={"version": version})
    return updated


async def apply_document(
    store: ControlStore,
    doc: TollwayConfig,
    actor: AuditActor,
    secrets: SecretResolver,
    prune: bool = True,
) -> ApplyResult:
    result = ApplyResult()
    wanted = wanted_records(doc, secrets, result)
    pruned = _pruned(doc, prune)
    refused = new_problems(store.state(), _state_after(store, wanted, pruned))
    if refused:
        raise InvalidRequest("The document was not applied: " + "; ".join(refused) + ".")
    for resource in _ORDER:
        for public_id, record in wanted[resource.bucket].items():
            await _put(store, resource, public_id, record, actor, result)
    for resource in reversed(_ORDER):
        if resource.bucket in pruned:
            for existing in store.all(resource):
                public_id = resource.public_id(existing)
                managed = getattr(existing, "managed_by", "") == MANAGED_BY_CONFIG
                if managed and public_id not in wanted[resource.bucket]:
                    _, revision = await store.read(resource, public_id)
                    await store.delete(resource, existing, revision, actor)
                    result.deleted.append(_label(resource, existing))
    return result


async def _put(
    store: ControlStore,
    resource: Resource[Any],
    public_id: str,
    record: BaseModel,
    actor: AuditActor,
    result: ApplyResult,
) -> None:
    if store.find(resource, public_id) is None:
        if isinstance(record, Price) and not record.version:
            record = record.model_copy(update={"version": price_version_now()})
        await store.create(resource, record, actor)
        result.created.append(_label(resource, record))
        return
    existing, revision = await store.read(resource, public_id)
    record = _carry_over(existing, record)
    if record == existing:
        result.unchanged += 1
        return
    await store.replace(resource, record, revision, actor)
    result.updated.append(_label(resource, record))
