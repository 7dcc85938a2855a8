"""ASGI middleware giving every request an id and every response an `x-request-id` header
(edge and admin; needs the `http` extra)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tollway_common import tracing
from tollway_common.ids import new_request_id
from tollway_common.log import request_id_var


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        request_id_var.set(request_id)
        tracing.tag_request_id(request_id)
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name == b"x-request-id" for name, _ in headers):
                    headers.append(header)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)
