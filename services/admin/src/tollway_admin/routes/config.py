"""The whole control plane as one declarative document: apply it, export it (GitOps)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request

from tollway_admin.apply import apply_document
from tollway_admin.resources import BUDGETS, MODELS, ORGS, PRICES, TEAMS, USERS
from tollway_admin.routes.common import store_of
from tollway_admin.secret_check import redact_headers, refuse_disallowed_secrets
from tollway_admin.security import Admin
from tollway_common.config_file import TollwayConfig
from tollway_common.secret_refs import SecretResolver

router = APIRouter(prefix="/api/v1/config", tags=["config"])


@router.put("")
async def apply_config(
    doc: TollwayConfig, request: Request, identity: Admin, prune: bool = True
) -> dict[str, Any]:
    """Create or update what `doc` declares; with `prune`, delete what an earlier apply
    created that `doc` no longer lists. Refused whole when it would leave a dangling
    reference."""
    refuse_disallowed_secrets(request.app.state.secret_policy, doc.models)
    secrets: SecretResolver = request.app.state.secrets
    result = await apply_document(store_of(request), doc, identity.actor, secrets, prune)
    return asdict(result)


@router.get("")
async def export_config(request: Request, identity: Admin) -> dict[str, Any]:
    """Everything but keys, ready for `apply`: a key's hash identifies it to the edge and is
    never shown, and its secret was never stored. Keys live in the keys API, or in a config
    file by secret reference."""
    store = store_of(request)
    doc = TollwayConfig(
        orgs=store.all(ORGS),
        teams=store.all(TEAMS),
        users=store.all(USERS),
        models=store.all(MODELS),
        prices=store.all(PRICES),
        budgets=store.all(BUDGETS),
    )
    exported = doc.model_dump(mode="json", exclude_defaults=True)
    exported["models"] = [redact_headers(m) for m in exported.get("models", [])]
    return exported
