"""The small HTTP server of the services that have no HTTP API (router, metering): `/healthz`
(the process answers), `/readyz` (its dependencies are there) and `/metrics` (Prometheus).

It starts before anything else, so probes get an answer while the service connects: `/readyz`
says 503 until the service has added its checks and every check passes, and again once the
service starts to stop.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from tollway_common import metrics
from tollway_common.settings import MonitorSettings

log = logging.getLogger(__name__)

Check = Callable[[], bool | Awaitable[bool]]
_CHECK_TIMEOUT_S = 2.0


class MonitorServer:
    def __init__(self, service: str, settings: MonitorSettings) -> None:
        self._service = service
        self._settings = settings
        self._checks: dict[str, Check] = {}
        self._started = False
        self._stopping = False
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{self._settings.host}:{self.port}"

    def add_check(self, name: str, check: Check) -> None:
        self._checks[name] = check

    def started(self) -> None:
        """Everything is set up: /readyz answers from the checks from now on."""
        self._started = True

    def stopping(self) -> None:
        """Shutting down: /readyz says 503 from now on."""
        self._stopping = True

    async def start(self) -> None:
        if not self._settings.enabled:
            return
        self._runner = web.AppRunner(self.application(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._settings.host, self._settings.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        log.info(f"{self._service} monitor listening", extra={"url": self.url})

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        return app

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _readyz(self, request: web.Request) -> web.Response:
        checks = {name: await _passes(check) for name, check in self._checks.items()}
        ready = self._started and not self._stopping and all(checks.values())
        status = "ready" if ready else ("stopping" if self._stopping else "not_ready")
        return web.json_response({"status": status, "checks": checks}, status=200 if ready else 503)

    async def _metrics(self, request: web.Request) -> web.Response:
        body, content_type = metrics.exposition()
        return web.Response(body=body, headers={"content-type": content_type})


async def _passes(check: Check) -> bool:
    try:
        result = check()
        if inspect.isawaitable(result):
            async with asyncio.timeout(_CHECK_TIMEOUT_S):
                result = await result
        return bool(result)
    except Exception as exc:
        log.warning("readiness check failed: %s", exc)
        return False
