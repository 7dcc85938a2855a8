"""The edge's Prometheus endpoint on a port of its own, off the public API port: a small
threaded HTTP server in the edge's main process, serving `/metrics` only (with several
workers, the sum of all of them)."""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tollway_common import metrics

log = logging.getLogger(__name__)


def serve_metrics(host: str, port: int, multiprocess_dir: Path | None) -> ThreadingHTTPServer:
    """Start serving in a daemon thread; port 0 takes a free one (`server.server_port`).

    Raises:
        OSError: the address is taken.
    """

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/metrics":
                self.send_error(404)
                return
            body, content_type = metrics.exposition(multiprocess_dir)
            self.send_response(200)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Scrapes are not logged."""

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    log.info("metrics listening", extra={"url": f"http://{host}:{server.server_port}/metrics"})
    return server
