"""Structured JSON logs with the current request id and trace id, written off the event loop."""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import queue
import sys
from contextvars import ContextVar
from typing import Any

import orjson

from tollway_common import tracing
from tollway_common.settings import LogSettings

request_id_var: ContextVar[str] = ContextVar("request_id", default="")

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
# Stamped on every record; left out of the line while empty.
_CONTEXT_FIELDS = ("request_id", "trace_id", "span_id")


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname,
            "service": self._service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key in _RESERVED or key in entry or key.startswith("_"):
                continue
            if value != "" or key not in _CONTEXT_FIELDS:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class ContextQueueHandler(logging.handlers.QueueHandler):
    """Stamps the request id and the trace and span ids on each record in the thread that logs:
    they live in context variables, which the logging thread cannot see."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        if not getattr(record, "request_id", ""):
            record.request_id = request_id_var.get()
        if not getattr(record, "trace_id", ""):
            record.trace_id, record.span_id = tracing.current_ids()
        prepared: logging.LogRecord = super().prepare(record)
        return prepared


def setup_logging(service: str, settings: LogSettings) -> None:
    """Route every log record through a queue to a thread, so logging never blocks the loop."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.json_format:
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {service} %(levelname)s %(message)s"))
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    listener = logging.handlers.QueueListener(records, handler, respect_handler_level=True)
    root = logging.getLogger()
    root.handlers[:] = [ContextQueueHandler(records)]
    root.setLevel(settings.level)
    listener.start()
    atexit.register(listener.stop)
