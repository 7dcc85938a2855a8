"""Build the admin app: the management API over the control plane in NATS KV, the config-file
loader, and health."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse

from tollway_admin.apply import apply_document
from tollway_admin.config_sync import file_actor, watch_config_file
from tollway_admin.deployment_health import HealthBoard
from tollway_admin.oidc_roles import oidc_identifier
from tollway_admin.routes import config, deployment_health, keys, records, requests, usage
from tollway_admin.security import AdminIdentity, Viewer
from tollway_admin.security_headers import SecurityHeadersMiddleware
from tollway_admin.settings import AdminSettings
from tollway_admin.signin_gate import SignInGate
from tollway_admin.store import ControlStore
from tollway_admin.ui.app import install_ui
from tollway_admin.ui.revocations import RevokedSessions
from tollway_admin.ui.session import SESSION_TTL_S
from tollway_admin.webhooks import WebhookDeliverer
from tollway_common import metrics, nats_client
from tollway_common.bus_permissions import Service
from tollway_common.config_file import load_config
from tollway_common.http_errors import install_error_handlers
from tollway_common.http_metrics import HttpMetricsMiddleware, metrics_endpoint
from tollway_common.http_tracing import instrument_fastapi
from tollway_common.oidc import OidcVerifier
from tollway_common.presence import Announcer, PresenceBoard
from tollway_common.request_ids import RequestIdMiddleware
from tollway_common.secret_policy import SecretPolicy
from tollway_common.secret_refs import SecretResolver
from tollway_common.trusted_hosts import TrustedHostMiddleware


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: AdminSettings = app.state.settings
    nc = await nats_client.connect(settings.nats, "tollway-admin", service=Service.ADMIN)
    js = nc.jetstream()
    await nats_client.ensure_usage_stream(js, settings.nats.replicas)
    store = await ControlStore.open(js, settings.nats.replicas)
    health = await HealthBoard.open(js, settings.nats.replicas)
    await nats_client.ensure_alerts_stream(js, settings.nats.replicas)
    webhooks = asyncio.create_task(WebhookDeliverer(js, store).run(), name="webhooks")
    secrets = SecretResolver(ttl_s=0)
    watcher: asyncio.Task[None] | None = None
    if settings.config_file is not None:
        # A broken file at start stops admin here, loudly; later edits are only logged.
        config_doc = await asyncio.to_thread(load_config, settings.config_file)
        await apply_document(store, config_doc, file_actor(settings.config_file), secrets)
        if settings.config_poll_s > 0:
            watcher = asyncio.create_task(
                watch_config_file(settings.config_file, settings.config_poll_s, store, secrets)
            )
    verifier = OidcVerifier(settings.oidc) if settings.oidc.enabled else None
    if verifier is not None:
        app.state.oidc_identify = oidc_identifier(verifier, settings.oidc_admin_roles)
    revoked_sessions = await RevokedSessions.open(js, settings.nats.replicas, SESSION_TTL_S)
    board = PresenceBoard()
    await board.start(nc)
    announcer = Announcer(nc, "admin", lambda: nc.is_connected)
    announcer.start()
    metrics.announce_build("admin")
    app.state.nc = nc
    app.state.store = store
    app.state.health = health
    app.state.presence = board
    app.state.secrets = secrets
    app.state.revoked_sessions = revoked_sessions
    try:
        yield
    finally:
        if watcher is not None:
            watcher.cancel()
        webhooks.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await webhooks
        await announcer.stop()
        await board.stop()
        await revoked_sessions.close()
        if verifier is not None:
            await verifier.close()
        await health.close()
        await store.close()
        await nats_client.drain(nc)


def create_app(settings: AdminSettings) -> FastAPI:
    docs = settings.api_docs
    app = FastAPI(
        title="Tollway admin",
        version="1",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    app.state.admin_token = settings.admin_token()
    app.state.oidc_identify = None
    app.state.secret_policy = SecretPolicy()
    install_error_handlers(app)
    # Inside the session middleware install_ui adds: the gate reads the session it decodes.
    app.add_middleware(SignInGate)
    install_ui(app, settings)
    # Before anything reads a cookie or a body (DNS rebinding); inside the headers below.
    app.add_middleware(TrustedHostMiddleware, patterns=settings.trusted_hosts)
    # Outermost: every response, errors and UI pages included, carries x-request-id.
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(HttpMetricsMiddleware)
    app.include_router(keys.router)
    app.include_router(deployment_health.router)  # before the models' `/{public_id:path}`
    app.include_router(deployment_health.counts_router)
    for router in records.ROUTERS:
        app.include_router(router)
    app.include_router(config.router)
    app.include_router(usage.router)
    app.include_router(requests.router)

    @app.get("/api/v1/whoami", tags=["session"])
    async def whoami(identity: Viewer) -> dict[str, object]:
        return _identity_view(identity)

    app.add_api_route("/metrics", metrics_endpoint(), include_in_schema=False)

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

    instrument_fastapi(app)
    return app


def _identity_view(identity: AdminIdentity) -> dict[str, object]:
    return {
        "actor": identity.actor.model_dump(mode="json"),
        "roles": sorted(identity.roles),
        "team_id": identity.team_id,
    }
