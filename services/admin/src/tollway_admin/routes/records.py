"""CRUD for orgs, teams, users, models (with their deployments) and prices, one router per kind.

Writes are compare-and-set (`If-Match: <revision>` to be sure nobody changed the record since
you read it) and refused when they would leave a dangling reference or a duplicate deployment.

FastAPI reads each route's body type from its annotation at run time, so this module does not
use postponed annotations: `record_type` must be evaluated where the route is defined.
"""

import time
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from tollway_admin.apply import price_version_now
from tollway_admin.references import ControlState
from tollway_admin.resources import BUDGETS, MODELS, ORGS, PRICES, TEAMS, USERS, Resource
from tollway_admin.routes.common import (
    expected_revision,
    refuse_new_problems,
    store_of,
    view,
    with_revision,
)
from tollway_admin.secret_check import (
    keep_redacted_headers,
    refuse_disallowed_secrets,
)
from tollway_admin.security import AdminIdentity, Viewer
from tollway_common.control import ModelAlias, Price
from tollway_common.errors import Conflict, InvalidRequest, PermissionDenied

_STATE_FIELD = {
    "org": "orgs",
    "team": "teams",
    "user": "users",
    "model": "models",
    "price": "prices",
    "budget": "budgets",
}


def _team_of(record: BaseModel) -> str | None:
    return getattr(record, "team_id", None) or None


def _require_write(identity: AdminIdentity, resource: Resource[Any], record: BaseModel) -> None:
    # Team admins manage the users (and, in keys.py, the keys) of their own team only.
    team = _team_of(record) if resource is USERS else None
    if not identity.can_write(team):
        raise PermissionDenied(f"Changing this {resource.kind} needs the 'admin' role.")


def _state_with(
    state: ControlState, resource: Resource[Any], public_id: str, record: BaseModel | None
) -> ControlState:
    items = dict(getattr(state, _STATE_FIELD[resource.kind]))
    if record is None:
        items.pop(public_id, None)
    else:
        items[public_id] = record
    return state.with_(**{_STATE_FIELD[resource.kind]: items})


def _checked_model(request: Request, record: BaseModel, existing: BaseModel | None) -> BaseModel:
    if not isinstance(record, ModelAlias):
        return record
    record = keep_redacted_headers(record, existing if isinstance(existing, ModelAlias) else None)
    refuse_disallowed_secrets(request.app.state.secret_policy, [record])
    return record


def _stamped(record: BaseModel, existing: BaseModel | None) -> BaseModel:
    changes: dict[str, Any] = {}
    if "created_at" in type(record).model_fields:
        changes["created_at"] = getattr(existing, "created_at", 0) or int(time.time())
    if "created" in type(record).model_fields:
        changes["created"] = getattr(existing, "created", 0) or int(time.time())
    if isinstance(record, Price) and not record.version:
        changes["version"] = price_version_now()
    return record.model_copy(update=changes)


async def prepare_replace(
    request: Request,
    resource: Resource[Any],
    public_id: str,
    body: BaseModel,
    identity: AdminIdentity,
) -> tuple[BaseModel, int]:
    """Every check a replace passes before it writes (the UI's preview runs exactly these):
    the id matches, the caller may write both versions, no reference dangles. Returns the
    record as it would be stored and the revision it replaces."""
    if resource.public_id(body) != public_id:
        raise InvalidRequest(
            f"The body names {resource.kind} '{resource.public_id(body)}', the path "
            f"'{public_id}'; renaming is a delete and a create."
        )
    store = store_of(request)
    existing, revision = await store.read(resource, public_id)
    record = _checked_model(request, _stamped(body, existing), existing)
    _require_write(identity, resource, existing)
    _require_write(identity, resource, record)
    before = store.state()
    refuse_new_problems(before, _state_with(before, resource, public_id, record), conflict=False)
    return record, revision


async def replace(
    request: Request,
    resource: Resource[Any],
    public_id: str,
    body: BaseModel,
    identity: AdminIdentity,
    expected: int | None = None,
) -> tuple[BaseModel, int]:
    """Replace the record, compare-and-set against `expected` (the revision the caller read;
    None for whatever is current)."""
    record, revision = await prepare_replace(request, resource, public_id, body, identity)
    if expected is not None and expected != revision:
        raise Conflict(
            f"The {resource.kind} '{public_id}' is at revision {revision}, not {expected}; "
            "read it again and retry."
        )
    written = await store_of(request).replace(resource, record, revision, identity.actor)
    return record, written


def prepare_create(
    request: Request, resource: Resource[Any], body: BaseModel, identity: AdminIdentity
) -> BaseModel:
    """Every check a create passes before it writes (the UI's preview runs exactly these):
    the secret policy, the caller's role, no dangling reference or duplicate deployment.
    Returns the record as it would be stored. The store refuses an id already taken."""
    record = _checked_model(request, _stamped(body, None), None)
    _require_write(identity, resource, record)
    before = store_of(request).state()
    after = _state_with(before, resource, resource.public_id(record), record)
    refuse_new_problems(before, after, conflict=False)
    return record


async def create(
    request: Request, resource: Resource[Any], body: BaseModel, identity: AdminIdentity
) -> tuple[BaseModel, int]:
    record = prepare_create(request, resource, body, identity)
    return record, await store_of(request).create(resource, record, identity.actor)


def records_router(resource: Resource[Any]) -> APIRouter:
    router = APIRouter(prefix=f"/api/v1/{resource.plural}", tags=[resource.plural])
    record_type = resource.record_type
    id_path = "/{public_id:path}" if resource in (MODELS, PRICES) else "/{public_id}"

    @router.get("")
    async def list_records(request: Request, identity: Viewer) -> dict[str, Any]:
        data = [view(r) for r in store_of(request).all(resource)]
        return {"object": "list", "data": data}

    @router.get(id_path)
    async def get_record(public_id: str, request: Request, identity: Viewer) -> dict[str, Any]:
        record, revision = await store_of(request).read(resource, public_id)
        return with_revision(record, revision)

    @router.post("", status_code=201)
    async def create_record(
        body: record_type,  # type: ignore[valid-type]
        request: Request,
        identity: Viewer,
    ) -> dict[str, Any]:
        record, revision = await create(request, resource, body, identity)
        return with_revision(record, revision)

    @router.put(id_path)
    async def replace_record(
        public_id: str,
        body: record_type,  # type: ignore[valid-type]
        request: Request,
        identity: Viewer,
    ) -> dict[str, Any]:
        record, revision = await prepare_replace(request, resource, public_id, body, identity)
        revision = await store_of(request).replace(
            resource, record, expected_revision(request, revision), identity.actor
        )
        return with_revision(record, revision)

    @router.delete(id_path, status_code=204)
    async def delete_record(public_id: str, request: Request, identity: Viewer) -> None:
        store = store_of(request)
        existing, revision = await store.read(resource, public_id)
        _require_write(identity, resource, existing)
        before = store.state()
        refuse_new_problems(before, _state_with(before, resource, public_id, None), conflict=True)
        await store.delete(resource, existing, expected_revision(request, revision), identity.actor)

    return router


ROUTERS = [records_router(resource) for resource in (ORGS, TEAMS, USERS, MODELS, PRICES, BUDGETS)]
