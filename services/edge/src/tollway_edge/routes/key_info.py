"""GET /v1/key/info: a key holder's own view of what their credential may do, authenticated by
that credential. Never shows the key or its hash."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import nats.errors
import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from tollway_common import contract
from tollway_common.contract import SummaryQuery, SummaryReply, SummaryRow, UsageFilter
from tollway_edge.auth import Caller, authenticate
from tollway_edge.runtime import Runtime

router = APIRouter(prefix="/v1")
_USAGE_TIMEOUT_S = 2.0


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
    info["usage_this_month"] = await usage_this_month(caller, runtime)
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


async def usage_this_month(caller: Caller, runtime: Runtime) -> dict[str, Any] | None:
    """What the caller used since the start of the month (UTC), from metering; None when
    metering cannot answer right now."""
    now = datetime.now(UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    principal = caller.principal
    if not principal.key_id and not principal.user_id:
        return None  # a filter by nobody would read the whole gateway's usage
    flt = (
        UsageFilter(since_ms=int(start.timestamp() * 1000), key_id=principal.key_id)
        if principal.key_id
        else UsageFilter(since_ms=int(start.timestamp() * 1000), user_id=principal.user_id)
    )
    try:
        reply = await runtime.nc.request(
            contract.analytics_subject("summary"),
            contract.encode(SummaryQuery(filter=flt)),
            timeout=_USAGE_TIMEOUT_S,
        )
    except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
        return None
    answer = SummaryReply.model_validate_json(reply.data)
    if answer.error:
        return None
    row = answer.rows[0] if answer.rows else SummaryRow()
    return {
        "since": start.isoformat(),
        "requests": row.requests,
        "errors": row.errors,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "cost": row.cost,
        "currency": row.currency,
    }


@router.get("/key/info")
async def get_key_info(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    caller = await authenticate(request.headers, runtime.catalog, runtime.oidc)
    return Response(orjson.dumps(await key_info(caller, runtime)), media_type="application/json")
