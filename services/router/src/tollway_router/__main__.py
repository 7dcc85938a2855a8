"""`python -m tollway_router`: run a router worker."""

from __future__ import annotations

import asyncio
import logging

import uvloop

from tollway_common.log import setup_logging
from tollway_common.settings import OtelSettings
from tollway_common.tracing import setup_tracing
from tollway_router.service import run
from tollway_router.settings import RouterSettings

# At DEBUG these libraries log request options and headers, which carry upstream keys and
# tokens; they never log below INFO here, whatever the router's own level.
_QUIET_LOGGERS = ("anthropic", "httpx", "httpx2", "httpcore", "aiohttp")


def main() -> None:
    settings = RouterSettings()
    setup_logging("router", settings.log)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLogger().level))
    setup_tracing("router", OtelSettings())
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
