"""Build the admin app. For now it loads the config into KV and reports its health; the
management API arrives with the control-plane work."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse

from tollway_admin.config_sync import apply_config, watch_config_file
from tollway_admin.settings import AdminSettings
from tollway_common import contract, nats_client
from tollway_common.config_file import load_config
from tollway_common.secret_refs import SecretResolver


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: AdminSettings = app.state.settings
    nc = await nats_client.connect(settings.nats, "tollway-admin")
    js = nc.jetstream()
    await nats_client.ensure_usage_stream(js, settings.nats.replicas)
    models_kv = await nats_client.ensure_kv(js, contract.KV_MODELS, settings.nats.replicas)
    keys_kv = await nats_client.ensure_kv(js, contract.KV_KEYS, settings.nats.replicas)
    secrets = SecretResolver(ttl_s=0)
    watcher: asyncio.Task[None] | None = None
    if settings.config_file is not None:
        config = await asyncio.to_thread(load_config, settings.config_file)
        await apply_config(config, models_kv, keys_kv, secrets)
        if settings.config_poll_s > 0:
            watcher = asyncio.create_task(
                watch_config_file(
                    settings.config_file, settings.config_poll_s, models_kv, keys_kv, secrets
                )
            )
    app.state.nc = nc
    try:
        yield
    finally:
        if watcher is not None:
            watcher.cancel()
        with contextlib.suppress(Exception):
            await nc.drain()


def create_app(settings: AdminSettings) -> FastAPI:
    app = FastAPI(title="Tollway admin", lifespan=lifespan)
    app.state.settings = settings
    app.state.admin_token = settings.token.get_secret_value() if settings.token else None
    app.state.oidc_identify = None

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        connected = bool(request.app.state.nc.is_connected)
        return JSONResponse(
            {"status": "ready" if connected else "not_ready", "checks": {"nats": connected}},
            status_code=200 if connected else 503,
        )

    return app
