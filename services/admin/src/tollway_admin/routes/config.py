"""The whole control plane as one declarative document: apply it, export it (GitOps)."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request

from tollway_admin.apply import apply_document
from tollway_admin.resources import BUDGETS, KEYS, MODELS, ORGS, PRICES, TEAMS, USERS
from tollway_admin.routes.common import store_of
from tollway_admin.secret_check import redact_headers, refuse_disallowed_secrets
from tollway_admin.security import Admin, Viewer
from tollway_common.config_file import BootstrapKey, TollwayConfig
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
async def export_config(request: Request, identity: Viewer) -> dict[str, Any]:
    """Everything, keys by hash (their secrets were never stored), ready for `apply`."""
    store = store_of(request)
    now = time.time()
    keys = [
        BootstrapKey(
            name=key.name,
            key_hash=key.key_hash,
            policy=key.policy,
            limits=key.limits,
            budget_ids=key.budget_ids,
            metadata=key.metadata,
            user_id=key.user_id,
            team_id=key.team_id,
            org_id=key.org_id,
            expires_at=key.expires_at,
        )
        for key in store.all(KEYS)
        if key.usable_at(now)
    ]
    doc = TollwayConfig(
        orgs=store.all(ORGS),
        teams=store.all(TEAMS),
        users=store.all(USERS),
        models=store.all(MODELS),
        prices=store.all(PRICES),
        budgets=store.all(BUDGETS),
        keys=keys,
    )
    exported = doc.model_dump(mode="json", exclude_defaults=True)
    exported["models"] = [redact_headers(m) for m in exported.get("models", [])]
    return exported
