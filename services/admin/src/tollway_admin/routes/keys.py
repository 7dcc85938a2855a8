"""Virtual keys: issue, list, read, edit, rotate with a grace period, revoke.

The secret is returned once, by create and rotate; only its hash and a short prefix are kept.
A team-admin sets only what its team allows (`key_scope`).
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from tollway_admin import key_scope, read_scope
from tollway_admin.client_sessions import list_sessions, revoke_session
from tollway_admin.key_expiry import expiry_refusal
from tollway_admin.references import ControlState
from tollway_admin.resources import KEYS, TEAMS, new_key_id
from tollway_admin.routes.common import (
    expected_revision,
    refuse_new_problems,
    store_of,
    with_revision,
)
from tollway_admin.security import AdminIdentity, Role, Viewer
from tollway_common.control import KeyRecord, Limits, Policy, hash_key, key_prefix
from tollway_common.errors import InvalidRequest, NotFound, PermissionDenied, PolicyRefused

router = APIRouter(prefix="/api/v1/keys", tags=["keys"])

SECRET_PREFIX = "tw-"
_HIDDEN = {"key_hash"}


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    user_id: str = ""
    team_id: str = ""
    org_id: str = ""
    expires_at: int = Field(default=0, ge=0, description="Unix seconds; 0 never expires.")
    metadata: dict[str, str] = Field(default_factory=dict)
    policy: Policy = Policy()
    limits: Limits = Limits()
    budget_ids: list[str] = Field(default_factory=list)


class KeyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    expires_at: int | None = Field(default=None, ge=0)
    metadata: dict[str, str] | None = None
    policy: Policy | None = None
    limits: Limits | None = None
    budget_ids: list[str] | None = None


class KeyRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grace_s: int = Field(
        default=3600, ge=0, le=30 * 86400, description="How long the old key keeps working."
    )


class SessionRevoke(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: int = Field(
        default=900,
        ge=1,
        le=86_400,
        description="How long the client is refused with this key (at most a day).",
    )


_CLIENT = re.compile(r"[0-9a-f]{16}")


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _view(record: KeyRecord, revision: int, secret: str | None = None) -> dict[str, Any]:
    view = with_revision(record, revision, _HIDDEN)
    if secret is not None:
        view["key"] = secret
    return view


def _require_write(identity: AdminIdentity, team_id: str) -> None:
    if not identity.can_write(team_id or None):
        raise PermissionDenied(
            "Changing this key needs the 'admin' role, or 'team-admin' of its team."
        )


def _require_scope(
    identity: AdminIdentity, new: KeyRecord, old: KeyRecord | None, state: ControlState
) -> None:
    """Refuse a team-admin's change that goes beyond what its team allows (403 naming the
    field); admins may set anything."""
    if Role.ADMIN in identity.roles:
        return
    team = state.teams.get(new.team_id)
    org = state.orgs.get(new.org_id)
    ceilings = [
        *([key_scope.Ceiling(f"team '{team.team_id}'", team.policy)] if team else []),
        *([key_scope.Ceiling(f"org '{org.org_id}'", org.policy)] if org else []),
    ]
    found = key_scope.overreaches(new, old, ceilings, state.users)
    if found:
        raise PolicyRefused(
            " ".join(f.message for f in found) + " Ask an admin for more.", param=found[0].param
        )


def _owner(body: KeyCreate, request: Request) -> tuple[str, str]:
    """The key's team and org; the org follows from the team when only the team is named."""
    if not body.team_id:
        return body.team_id, body.org_id
    team = store_of(request).find(TEAMS, body.team_id)
    if team is None:
        raise InvalidRequest(f"There is no team '{body.team_id}'.", param="team_id")
    return body.team_id, body.org_id or team.org_id


@router.post("", status_code=201)
async def create_key(body: KeyCreate, request: Request, identity: Viewer) -> dict[str, Any]:
    team_id, org_id = _owner(body, request)
    _require_write(identity, team_id)
    secret = new_secret()
    digest = hash_key(secret)
    record = KeyRecord(
        key_id=new_key_id(),
        name=body.name,
        key_hash=digest,
        prefix=key_prefix(secret),
        user_id=body.user_id,
        team_id=team_id,
        org_id=org_id,
        created_at=int(time.time()),
        created_by=f"{identity.actor.kind}:{identity.actor.id}",
        expires_at=body.expires_at,
        metadata=body.metadata,
        policy=body.policy,
        limits=body.limits,
        budget_ids=body.budget_ids,
    )
    store = store_of(request)
    before = store.state()
    refuse_new_problems(
        before, before.with_(keys={**before.keys, record.key_id: record}), conflict=False
    )
    _require_scope(identity, record, None, before)
    revision = await store.create(KEYS, record, identity.actor)
    return _view(record, revision, secret)


@router.get("")
async def list_keys(
    request: Request,
    identity: Viewer,
    team_id: str | None = None,
    org_id: str | None = None,
    user_id: str | None = None,
    q: str | None = None,
    include_inactive: bool = False,
) -> dict[str, Any]:
    now = time.time()
    keys = [
        record
        for record in store_of(request).all(KEYS)
        if (team_id is None or record.team_id == team_id)
        and (org_id is None or record.org_id == org_id)
        and (user_id is None or record.user_id == user_id)
        and (q is None or q.lower() in record.name.lower() or record.prefix.startswith(q))
        and (include_inactive or record.usable_at(now))
        and read_scope.can_read_key(identity, record)
    ]
    data = [record.model_dump(mode="json", exclude=_HIDDEN) for record in keys]
    return {"object": "list", "data": data}


async def _read(request: Request, key_id: str) -> tuple[KeyRecord, int]:
    record, revision = await store_of(request).read(KEYS, key_id)
    return record, revision


@router.get("/{key_id}")
async def get_key(key_id: str, request: Request, identity: Viewer) -> dict[str, Any]:
    record, revision = await _read(request, key_id)
    if not read_scope.can_read_key(identity, record):
        # As if it did not exist: another team's key ids are not confirmed.
        raise NotFound(f"There is no key '{key_id}'.")
    return _view(record, revision)


@router.patch("/{key_id}")
async def update_key(
    key_id: str,
    body: KeyUpdate,
    request: Request,
    identity: Viewer,
) -> dict[str, Any]:
    record, revision = await _read(request, key_id)
    _require_write(identity, record.team_id)
    changes = body.model_dump(exclude_unset=True)
    if "expires_at" in changes and changes["expires_at"] != record.expires_at:
        refusal = expiry_refusal(record, changes["expires_at"] or 0)
        if refusal is not None:
            raise InvalidRequest(refusal, param="expires_at")
    updated = KeyRecord.model_validate({**record.model_dump(), **changes})
    store = store_of(request)
    before = store.state()
    refuse_new_problems(
        before, before.with_(keys={**before.keys, updated.key_id: updated}), conflict=False
    )
    _require_scope(identity, updated, record, before)
    revision = await store.replace(
        KEYS, updated, expected_revision(request, revision), identity.actor
    )
    return _view(updated, revision)


@router.post("/{key_id}/rotate", status_code=201)
async def rotate_key(
    key_id: str,
    request: Request,
    identity: Viewer,
    body: KeyRotate | None = None,
) -> dict[str, Any]:
    """Issue a new key with the same owner, scopes and limits; the old key keeps working for
    `grace_s` seconds, then expires."""
    grace_s = (body or KeyRotate()).grace_s
    old, revision = await _read(request, key_id)
    _require_write(identity, old.team_id)
    now = int(time.time())
    if not old.usable_at(now):
        raise InvalidRequest(f"The key '{key_id}' is revoked or expired; issue a new one.")
    secret = new_secret()
    digest = hash_key(secret)
    new = old.model_copy(
        update={
            "key_id": new_key_id(),
            "key_hash": digest,
            "prefix": key_prefix(secret),
            "created_at": now,
            "created_by": f"{identity.actor.kind}:{identity.actor.id}",
            "rotated_to": "",
            "managed_by": "",
        }
    )
    store = store_of(request)
    new_revision = await store.create(KEYS, new, identity.actor)
    grace_end = now + grace_s
    retired = old.model_copy(
        update={
            "expires_at": min(old.expires_at, grace_end) if old.expires_at else grace_end,
            "rotated_to": new.key_id,
        }
    )
    await store.replace(KEYS, retired, expected_revision(request, revision), identity.actor)
    return _view(new, new_revision, secret)


@router.post("/{key_id}/revoke")
async def revoke_key(key_id: str, request: Request, identity: Viewer) -> dict[str, Any]:
    record, revision = await _read(request, key_id)
    _require_write(identity, record.team_id)
    if record.revoked_at:
        return _view(record, revision)
    revoked = record.model_copy(update={"revoked_at": int(time.time())})
    revision = await store_of(request).replace(
        KEYS, revoked, expected_revision(request, revision), identity.actor
    )
    return _view(revoked, revision)


@router.get("/{key_id}/sessions")
async def list_key_sessions(key_id: str, request: Request, identity: Viewer) -> dict[str, Any]:
    """The key's clients with requests in flight (or revoked), where a per-client concurrency
    limit applies to it; read from the edges."""
    record, _ = await _read(request, key_id)
    if not read_scope.can_read_key(identity, record):
        raise NotFound(f"There is no key '{key_id}'.")
    found = await list_sessions(request.app.state.nc, key_id)
    return {"object": "list", "data": [session.model_dump(mode="json") for session in found]}


@router.post("/{key_id}/sessions/{client}/revoke")
async def revoke_key_session(
    key_id: str,
    client: str,
    request: Request,
    identity: Viewer,
    body: SessionRevoke | None = None,
) -> dict[str, Any]:
    """Refuse the client's next requests with this key (403 `session_revoked`) for `seconds`;
    requests in flight finish."""
    if not _CLIENT.fullmatch(client):
        raise InvalidRequest("A client is 16 hex digits, as the key's sessions list it.")
    record, _ = await _read(request, key_id)
    _require_write(identity, record.team_id)
    seconds = (body or SessionRevoke()).seconds
    store = store_of(request)
    found = await revoke_session(
        request.app.state.nc, store.audit, identity.actor, key_id, client, seconds
    )
    return {"object": "list", "data": [session.model_dump(mode="json") for session in found]}


@router.delete("/{key_id}", status_code=204)
async def delete_key(key_id: str, request: Request, identity: Viewer) -> None:
    record, revision = await _read(request, key_id)
    _require_write(identity, record.team_id)
    if record.usable_at(time.time()):
        raise InvalidRequest(f"Revoke the key '{key_id}' before deleting it.")
    await store_of(request).delete(
        KEYS, record, expected_revision(request, revision), identity.actor
    )


__all__ = ["NotFound", "router"]
