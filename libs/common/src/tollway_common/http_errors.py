"""Render every failure of an HTTP service (edge, admin) as OpenAI error JSON with the right
status and `x-request-id`. Needs the `http` extra (FastAPI)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from tollway_common.errors import InternalError, InvalidRequest, TollwayError
from tollway_common.openai_errors import OpenAIErrorBody, render_error

log = logging.getLogger(__name__)


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


def last_resort(exc: BaseException) -> InternalError:
    """The one last resort for a failure nothing else handled: log it with its traceback, and
    give the error the client gets in its place (a 500, or a stream's last event)."""
    log.error("unhandled error", exc_info=exc)
    return InternalError("Tollway hit an unexpected error; the request id identifies it.")


def request_id_of(request: Request) -> str:
    return str(getattr(request.state, "request_id", ""))


def install_error_handlers(app: FastAPI) -> None:
    async def on_tollway_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, TollwayError)
        return tollway_error_response(exc, request_id_of(request))

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = "not_found" if exc.status_code == 404 else "invalid_request"
        body = OpenAIErrorBody(
            message=f"{request.method} {request.url.path}: {exc.detail}",
            type="invalid_request_error",
            code=code,
        )
        return error_response(
            exc.status_code, body, request_id_of(request), dict(exc.headers or {})
        )

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        param = ".".join(str(p) for p in first["loc"] if p != "body") or None
        error = InvalidRequest(f"{first['msg']}", param=param)
        return tollway_error_response(error, request_id_of(request))

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        return tollway_error_response(last_resort(exc), request_id_of(request))

    app.add_exception_handler(TollwayError, on_tollway_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)
