"""Serve the inference endpoints straight from ASGI, ahead of FastAPI.

These routes carry nearly all traffic; FastAPI's routing, dependency solving and
middleware layers cost the edge about a fifth of its CPU per request (docs/bench.md). Every
other path, and any other method on these, goes on to the FastAPI app. Azure's paths
(`/openai/...`, `azure_paths.py`) are first read as the OpenAI paths they stand for.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from tollway_common import http_tracing
from tollway_common.contract import Endpoint
from tollway_common.errors import InvalidRequest
from tollway_edge import azure_paths, dialects, inference
from tollway_edge.errors import failure_response

ROUTES = {
    "/v1/chat/completions": Endpoint.CHAT_COMPLETIONS,
    "/v1/completions": Endpoint.COMPLETIONS,
    "/v1/embeddings": Endpoint.EMBEDDINGS,
    "/v1/moderations": Endpoint.MODERATIONS,
    "/v1/images/generations": Endpoint.IMAGES_GENERATIONS,
    "/v1/images/edits": Endpoint.IMAGES_EDITS,
    "/v1/images/variations": Endpoint.IMAGES_VARIATIONS,
    "/v1/audio/transcriptions": Endpoint.AUDIO_TRANSCRIPTIONS,
    "/v1/audio/translations": Endpoint.AUDIO_TRANSLATIONS,
    "/v1/audio/speech": Endpoint.AUDIO_SPEECH,
    "/v1/rerank": Endpoint.RERANK,
    "/v1/messages": Endpoint.MESSAGES,
    "/v1/messages/count_tokens": Endpoint.MESSAGES_COUNT_TOKENS,
    "/v1/responses": Endpoint.RESPONSES,
}
AZURE = azure_paths.PREFIX


class InferenceFastPath:
    def __init__(self, app: FastAPI) -> None:
        self.app = app
        # FastAPI's instrumentation never sees these routes: they get their server span here.
        self._inference = http_tracing.traced(self._serve)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = ROUTES.get(scope["path"]) if scope["type"] == "http" else None
        # Looked for only when no route matched, so the routes above cost what they did.
        if endpoint is None and scope["type"] == "http" and scope["path"].startswith(AZURE):
            try:
                _enter_azure_path(scope)
            except InvalidRequest as exc:
                response = failure_response(exc, scope["state"]["request_id"])
                await response(scope, receive, send)
                return
            endpoint = ROUTES.get(scope["path"])
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
            response = await inference.handle(
                request,
                endpoint,
                self.app.state.runtime,
                request_id,
                path_model=scope["state"].get(azure_paths.DEPLOYMENT_STATE_KEY),
            )
        except Exception as exc:
            response = failure_response(exc, request_id, dialects.for_endpoint(endpoint))
        await response(scope, receive, send)


def _enter_azure_path(scope: Scope) -> None:
    """Serve an Azure path as the OpenAI path it stands for: the routes, metrics and spans all
    see that path, and the deployment it named waits in the scope's state."""
    azure_paths.check_api_version(scope["query_string"])
    azure = azure_paths.read_path(scope["path"])
    scope["path"] = azure.path
    scope["raw_path"] = quote(azure.path).encode("ascii")
    if azure.deployment is not None:
        scope["state"][azure_paths.DEPLOYMENT_STATE_KEY] = azure.deployment
