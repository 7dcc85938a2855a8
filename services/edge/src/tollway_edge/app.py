"""Build the edge ASGI app: routes, error handlers, request ids. No logic lives here."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp

from tollway_common.http_metrics import HttpMetricsMiddleware
from tollway_common.http_tracing import instrument_fastapi
from tollway_common.request_ids import RequestIdMiddleware
from tollway_common.trusted_hosts import TrustedHostMiddleware
from tollway_edge import fast_path
from tollway_edge.errors import install_error_handlers
from tollway_edge.fast_path import InferenceFastPath
from tollway_edge.lifespan import lifespan
from tollway_edge.routes import batches, files, health, key_info, models, responses, unserved
from tollway_edge.settings import EdgeSettings


def create_app(settings: EdgeSettings) -> ASGIApp:
    app = FastAPI(
        title="Tollway edge",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.include_router(models.router)
    app.include_router(key_info.router)
    app.include_router(responses.router)
    app.include_router(health.router)
    app.include_router(files.router)
    app.include_router(batches.router)
    unserved.install(app)
    install_error_handlers(app)
    instrument_fastapi(app)
    return HttpMetricsMiddleware(
        RequestIdMiddleware(TrustedHostMiddleware(InferenceFastPath(app), settings.trusted_hosts)),
        fixed_routes=fast_path.ROUTES,
    )
