"""`python -m tollway_edge`: serve the OpenAI-compatible API with uvicorn."""

from __future__ import annotations

import uvicorn

from tollway_common.log import setup_logging
from tollway_edge.app import create_app
from tollway_edge.settings import EdgeSettings


def main() -> None:
    settings = EdgeSettings()
    setup_logging("edge", settings.log)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=30,
    )


if __name__ == "__main__":
    main()
