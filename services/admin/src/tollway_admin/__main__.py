"""`python -m tollway_admin`: serve the admin API."""

from __future__ import annotations

import uvicorn

from tollway_admin.app import create_app
from tollway_admin.settings import AdminSettings
from tollway_common.http_server import uvicorn_options
from tollway_common.log import setup_logging
from tollway_common.settings import OtelSettings
from tollway_common.tracing import setup_tracing


def main() -> None:
    settings = AdminSettings()
    setup_logging("admin", settings.log)
    setup_tracing("admin", OtelSettings())
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        access_log=False,
        log_config=None,
        **uvicorn_options(settings.http, app_times_body=False),
    )


if __name__ == "__main__":
    main()
