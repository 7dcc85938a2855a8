"""`python -m tollway_edge`: serve the OpenAI-compatible API with uvicorn."""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from tollway_common.http_server import uvicorn_options
from tollway_common.log import setup_logging
from tollway_common.metrics import reset_multiprocess_dir
from tollway_common.metrics_server import serve_metrics
from tollway_common.settings import OtelSettings
from tollway_common.tracing import setup_tracing
from tollway_edge.app import create_app
from tollway_edge.http_protocol import EdgeHttpProtocol
from tollway_edge.settings import EdgeSettings


def app_factory() -> ASGIApp:
    """Build the app inside each worker process when there is more than one."""
    settings = EdgeSettings()
    setup_logging("edge", settings.log)
    setup_tracing("edge", OtelSettings())
    return create_app(settings)


def http_options(settings: EdgeSettings) -> dict[str, Any]:
    """The shared HTTP limits, served by the edge's own protocol (`http_protocol.py`)."""
    options = uvicorn_options(settings.http, app_times_body=True)
    options["http"] = functools.partial(EdgeHttpProtocol, **options["http"].keywords)
    return options


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tollway_edge")
    parser.add_argument("--certfile", type=Path, help="serve HTTPS with this certificate")
    parser.add_argument("--keyfile", type=Path, help="the certificate's private key")
    args = parser.parse_args(argv)
    overrides = {}
    if args.certfile or args.keyfile:
        overrides = {"ssl_certfile": args.certfile, "ssl_keyfile": args.keyfile}
        # Worker processes rebuild settings from the environment.
        os.environ["TOLLWAY_EDGE_SSL_CERTFILE"] = str(args.certfile or "")
        os.environ["TOLLWAY_EDGE_SSL_KEYFILE"] = str(args.keyfile or "")
    settings = EdgeSettings(**overrides)
    setup_logging("edge", settings.log)
    multi = settings.workers > 1
    temporary: Path | None = None
    metrics_dir: Path | None = None
    if multi:
        metrics_dir = settings.metrics_dir
        if metrics_dir is None:
            metrics_dir = temporary = Path(tempfile.mkdtemp(prefix="tollway-edge-metrics-"))
        reset_multiprocess_dir(metrics_dir)
        # prometheus_client reads PROMETHEUS_MULTIPROC_DIR when a worker imports it.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        os.environ["TOLLWAY_EDGE_METRICS_DIR"] = str(metrics_dir)
    else:
        setup_tracing("edge", OtelSettings())
    if settings.metrics.enabled:
        serve_metrics(settings.metrics.host, settings.metrics.port, metrics_dir)
    try:
        uvicorn.run(
            "tollway_edge.__main__:app_factory" if multi else create_app(settings),
            factory=multi,
            workers=settings.workers if multi else None,
            host=settings.host,
            port=settings.port,
            loop="uvloop",
            access_log=False,
            log_config=None,
            timeout_graceful_shutdown=30,
            backlog=4096,
            ssl_certfile=settings.ssl_certfile,
            ssl_keyfile=settings.ssl_keyfile,
            **http_options(settings),
        )
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)


if __name__ == "__main__":
    main()
