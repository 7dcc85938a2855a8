"""Serve the inference endpoints straight from ASGI, ahead of FastAPI.

These routes carry nearly all traffic; FastAPI's routing, dependency solving and
middleware layers cost the edge about a fifth of its CPU per request (docs/bench.md). Every
other path, and any other method on these, goes on to the FastAPI app.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from tollway_common import http_tracing
from tollway_common.contract import Endpoint
from tollway_edge import dialects, inference
from tollway_edge.errors import failure_response

ROUTES = {
    "/v1/chat/completions": Endpoint.CHAT_COMPLETIONS,
    "/v1/completions": Endpoint.COMPLETIONS,
    "/v1/embeddings": Endpoint.EMBEDDINGS,
    "/v1/messages": Endpoint.MESSAGES,
    "/v1/messages/count_tokens": Endpoint.MESSAGES_COUNT_TOKENS,
}


class InferenceFastPath:
    def __init__(self, app: FastAPI) -> None:
        self.app = app
        # FastAPI's instrumentation never sees these routes: they get their server span here.
        self._inference = http_tracing.traced(self._serve)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = ROUTES.get(scope["path"]) if scope["type"] == "http" else None
        if endpoint is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        await self._inference(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = ROUTES[scope["path"]]
        request = Request(scope, receive)
        request_id: str = scope["state"]["request_id"]
        response: Response
        try:
            response = await inference.handle(request, endpoint, self.app.state.runtime, request_id)
        except Exception as exc:
            response = failure_response(exc, request_id, dialects.for_endpoint(endpoint))
        await response(scope, receive, send)
