"""Map every failure to OpenAI error JSON with the right status and `x-request-id`."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from tollway_common.contract import ErrorReply
from tollway_common.errors import InternalError, InvalidRequest, TollwayError
from tollway_common.openai_errors import OpenAIErrorBody, render_error

log = logging.getLogger(__name__)


class ReplyError(Exception):
    """An `ErrorReply` from a router: rendered exactly as the router classified it."""

    def __init__(self, reply: ErrorReply) -> None:
        super().__init__(reply.error.message)
        self.reply = reply


def error_response(
    status: int,
    body: OpenAIErrorBody,
    request_id: str,
    headers: dict[str, str] | None = None,
) -> Response:
    all_headers = {"x-request-id": request_id, **(headers or {})}
    return Response(
        render_error(body), status_code=status, headers=all_headers, media_type="application/json"
    )


def tollway_error_response(exc: TollwayError, request_id: str) -> Response:
    return error_response(exc.status, exc.body(), request_id, exc.headers())


def reply_error_response(reply: ErrorReply, request_id: str) -> Response:
    headers: dict[str, str] = {}
    if reply.retry_after is not None:
        headers["retry-after"] = str(max(0, round(reply.retry_after)))
    if reply.should_retry is not None:
        headers["x-should-retry"] = "true" if reply.should_retry else "false"
    return error_response(reply.status, reply.error, request_id, headers)


def _request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", ""))


def install_error_handlers(app: FastAPI) -> None:
    async def on_tollway_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, TollwayError)
        return tollway_error_response(exc, _request_id(request))

    async def on_reply_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ReplyError)
        return reply_error_response(exc.reply, _request_id(request))

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = "not_found" if exc.status_code == 404 else "invalid_request"
        body = OpenAIErrorBody(
            message=f"{request.method} {request.url.path}: {exc.detail}",
            type="invalid_request_error",
            code=code,
        )
        return error_response(exc.status_code, body, _request_id(request), dict(exc.headers or {}))

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        param = ".".join(str(p) for p in first["loc"] if p != "body") or None
        error = InvalidRequest(f"{first['msg']}", param=param)
        return tollway_error_response(error, _request_id(request))

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error")
        error = InternalError("Tollway hit an unexpected error; the request id identifies it.")
        return tollway_error_response(error, _request_id(request))

    app.add_exception_handler(TollwayError, on_tollway_error)
    app.add_exception_handler(ReplyError, on_reply_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)
