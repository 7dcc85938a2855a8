"""Map every failure to OpenAI error JSON: the shared handlers, plus a router's ErrorReply
rendered exactly as the router classified it."""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.responses import Response

from tollway_common import http_errors
from tollway_common.contract import ErrorReply
from tollway_common.http_errors import error_response, request_id_of, tollway_error_response
from tollway_common.openai_errors import error_headers

__all__ = ["ReplyError", "error_response", "install_error_handlers", "tollway_error_response"]


class ReplyError(Exception):
    """An `ErrorReply` from a router: rendered exactly as the router classified it."""

    def __init__(self, reply: ErrorReply) -> None:
        super().__init__(reply.error.message)
        self.reply = reply


def reply_error_response(reply: ErrorReply, request_id: str) -> Response:
    headers = error_headers(reply.retry_after, reply.should_retry)
    return error_response(reply.status, reply.error, request_id, headers)


def install_error_handlers(app: FastAPI) -> None:
    http_errors.install_error_handlers(app)

    async def on_reply_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ReplyError)
        return reply_error_response(exc.reply, request_id_of(request))

    app.add_exception_handler(ReplyError, on_reply_error)
