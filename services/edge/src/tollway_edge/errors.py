"""Map every failure to the client's error JSON (OpenAI's, or Anthropic's for Messages
clients, `dialects.py`): the shared handlers, a router's ErrorReply rendered exactly as the
router classified it, and the one way any failure becomes a response or, once a stream has
begun, its last event."""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.responses import Response

from tollway_common import http_errors
from tollway_common.contract import ErrorReply
from tollway_common.errors import TollwayError
from tollway_common.http_errors import (
    error_response,
    last_resort,
    request_id_of,
    tollway_error_response,
)
from tollway_common.openai_errors import error_headers
from tollway_edge.dialects import OPENAI, Dialect

__all__ = [
    "ReplyError",
    "error_response",
    "failure_event",
    "failure_response",
    "install_error_handlers",
    "tollway_error_response",
]


class ReplyError(Exception):
    """An `ErrorReply` from a router: rendered exactly as the router classified it."""

    def __init__(self, reply: ErrorReply) -> None:
        super().__init__(reply.error.message)
        self.reply = reply


def reply_error_response(reply: ErrorReply, request_id: str, dialect: Dialect = OPENAI) -> Response:
    headers = error_headers(reply.retry_after, reply.should_retry)
    return dialect.error_response(reply.status, reply.error, request_id, headers)


def failure_response(exc: Exception, request_id: str, dialect: Dialect = OPENAI) -> Response:
    """Any failure before a response has begun, as the response the client gets."""
    if isinstance(exc, ReplyError):
        return reply_error_response(exc.reply, request_id, dialect)
    error = exc if isinstance(exc, TollwayError) else last_resort(exc)
    return dialect.error_response(error.status, error.body(), request_id, error.headers())


def failure_event(exc: Exception, dialect: Dialect = OPENAI, sent: int = 0) -> bytes:
    """Any failure after a stream has begun (with `sent` events), as its last SSE event."""
    if isinstance(exc, ReplyError):
        return dialect.error_event(exc.reply.status, exc.reply.error, sent)
    error = exc if isinstance(exc, TollwayError) else last_resort(exc)
    return dialect.error_event(error.status, error.body(), sent)


def install_error_handlers(app: FastAPI) -> None:
    http_errors.install_error_handlers(app)

    async def on_reply_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ReplyError)
        return reply_error_response(exc.reply, request_id_of(request))

    app.add_exception_handler(ReplyError, on_reply_error)
