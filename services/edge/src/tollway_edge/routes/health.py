"""/healthz (the process is alive) and /readyz (NATS and the control plane are there)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from tollway_edge.runtime import Runtime

router = APIRouter()


@router.get("/healthz")
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    checks = {
        "nats": runtime.nc.is_connected,
        "catalog": runtime.catalog.models.ready.is_set() and runtime.catalog.keys.ready.is_set(),
    }
    ready = all(checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status_code=200 if ready else 503,
    )
