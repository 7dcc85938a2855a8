"""Serve an ASGI app from a thread with its own event loop, on a loopback port bound up front
(so no other process can take it between choosing and listening)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

import uvicorn
from starlette.types import ASGIApp

_START_TIMEOUT_S = 10.0


class ThreadedServer:
    def __init__(self, app: ASGIApp, name: str, tls: tuple[Path, Path] | None = None) -> None:
        """`tls`: (certificate, key) files to serve HTTPS with."""
        self.name = name
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self._server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=self.port,
                log_level="warning",
                lifespan="off",
                timeout_graceful_shutdown=1,
                ssl_certfile=tls[0] if tls else None,
                ssl_keyfile=tls[1] if tls else None,
            )
        )
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"{self.name} did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(_START_TIMEOUT_S)
        self._socket.close()


class ServedInThread:
    """Base of the test servers: `with Server() as server:` serves while inside the block.

    A subclass sets `_server` in its constructor. One that checks what the gateway sends keeps
    the problems in `schema_errors` and names them in `invalid_requests`: a block that ended
    without an exception then fails with them, so no test passes on requests a real provider
    would refuse."""

    _server: ThreadedServer
    invalid_requests: ClassVar[str] = ""
    schema_errors: list[str]

    def __enter__(self) -> Self:
        self._server.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._before_stop()
        self._server.stop()
        if exc is None:
            self.raise_invalid_requests()

    def raise_invalid_requests(self) -> None:
        """Fail with the invalid requests received so far, and forget them: a server that
        several tests share checks after each, so the test that sent them fails."""
        errors = getattr(self, "schema_errors", [])
        if errors:
            found = list(errors)
            errors.clear()
            raise AssertionError(f"{self.invalid_requests}:\n" + "\n".join(found))

    def _before_stop(self) -> None:
        """What must happen before the server stops (release requests it holds)."""
