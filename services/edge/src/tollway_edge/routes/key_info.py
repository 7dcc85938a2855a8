"""GET /v1/key/info: a key holder's own view of what their credential may do, authenticated by
that credential. Never shows the key or its hash."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from tollway_edge.auth import Caller, authenticate
from tollway_edge.runtime import Runtime

router = APIRouter(prefix="/v1")


async def key_info(caller: Caller, runtime: Runtime) -> dict[str, Any]:
    principal = caller.principal
    team = runtime.catalog.teams.items.get(principal.team_id)
    org = runtime.catalog.orgs.items.get(principal.org_id)
    info: dict[str, Any] = {
        "object": "key" if caller.key else "token",
        "principal": principal.model_dump(mode="json"),
        "policies": [
            {"level": level.name, **level.policy.model_dump(mode="json", exclude_defaults=True)}
            for level in caller.levels
        ],
        "limits": {
            name: record.limits.model_dump(mode="json", exclude_defaults=True)
            for name, record in (("key", caller.key), ("team", team), ("org", org))
            if record is not None
        },
    }
    info["budgets"] = await runtime.gate.budget_status(caller)
    if caller.key is not None:
        info["key"] = caller.key.model_dump(
            mode="json",
            include={
                "key_id",
                "name",
                "prefix",
                "created_at",
                "expires_at",
                "rotated_to",
                "metadata",
            },
        )
    return info


@router.get("/key/info")
async def get_key_info(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    caller = await authenticate(request.headers, runtime.catalog, runtime.oidc)
    return Response(orjson.dumps(await key_info(caller, runtime)), media_type="application/json")
