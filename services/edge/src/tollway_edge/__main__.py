"""`python -m tollway_edge`: serve the OpenAI-compatible API with uvicorn."""

from __future__ import annotations

import uvicorn
from starlette.types import ASGIApp

from tollway_common.log import setup_logging
from tollway_edge.app import create_app
from tollway_edge.settings import EdgeSettings


def app_factory() -> ASGIApp:
    """Build the app inside each worker process when there is more than one."""
    settings = EdgeSettings()
    setup_logging("edge", settings.log)
    return create_app(settings)


def main() -> None:
    settings = EdgeSettings()
    setup_logging("edge", settings.log)
    multi = settings.workers > 1
    uvicorn.run(
        "tollway_edge.__main__:app_factory" if multi else create_app(settings),
        factory=multi,
        workers=settings.workers if multi else None,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=30,
        backlog=4096,
    )


if __name__ == "__main__":
    main()
