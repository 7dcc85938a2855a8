"""A fake Azure OpenAI resource on loopback: deployments on `/openai/deployments/<name>/...`
with `api-version`, the `/openai/v1/...` form with the deployment as `model`, the `api-key`
header or an Entra ID bearer token issued by the fake token service, and Azure's additions to
OpenAI's wire (the prompt-filter chunk that opens a stream, content-filter results, its error
bodies). Every request it receives is checked against OpenAI's request schema."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tests.support import fake_media, fake_responses, fixtures
from tests.support.fake_token_server import FakeTokenServer
from tests.support.openai_schema import validate_openai_request
from tests.support.threaded_server import ServedInThread, ThreadedServer
from tollway_common.contract import Endpoint
from tollway_router.upstream import demo_server

SCOPE = "https://cognitiveservices.azure.com/.default"
_ENDPOINTS = {
    "chat/completions": Endpoint.CHAT_COMPLETIONS,
    "completions": Endpoint.COMPLETIONS,
    "embeddings": Endpoint.EMBEDDINGS,
    "responses": Endpoint.RESPONSES,
}
# Azure's image and audio operations under a deployment (`fake_media.py` answers them).
_MEDIA = ("images/generations", "audio/transcriptions", "audio/speech")
_SAFE = {"filtered": False, "severity": "safe"}
_FILTERS = {"hate": _SAFE, "self_harm": _SAFE, "sexual": _SAFE, "violence": _SAFE}
_PROMPT_FILTER = {
    "choices": [],
    "created": 0,
    "id": "",
    "model": "",
    "object": "",
    "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": _FILTERS}],
}
_DENIED = {
    "error": {
        "code": "401",
        "message": "Access denied due to invalid subscription key or wrong API endpoint. Make "
        "sure to provide a valid key for an active subscription and use a correct regional API "
        "endpoint for your resource.",
    }
}
_NOT_FOUND = {"error": {"code": "404", "message": "Resource not found"}}


@dataclass(frozen=True)
class AzureRequest:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: dict[str, Any]


@dataclass
class FakeAzureOpenAIServer(ServedInThread):
    """`api_key` is the resource's key; with `tokens`, bearer tokens that service issued for
    Azure OpenAI's scope are accepted too. Set `content_filter` to refuse prompts the way
    Azure's content filter does."""

    invalid_requests = "the gateway sent invalid requests to Azure"

    deployments: frozenset[str]
    api_key: str
    tokens: FakeTokenServer | None = None
    content_filter: bool = False
    requests: list[AzureRequest] = field(default_factory=list)
    schema_errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        routes = [
            Route(
                "/openai/deployments/{deployment}/{endpoint:path}",
                self._deployment,
                methods=["POST"],
            ),
            Route("/openai/v1/{endpoint:path}", self._v1, methods=["POST"]),
        ]
        self._server = ThreadedServer(Starlette(routes=routes), "fake Azure OpenAI server")
        self.port = self._server.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _deployment(self, request: Request) -> Response:
        if "api-version" not in request.query_params:
            return _json(_NOT_FOUND, 404)
        return await self._serve(request, request.path_params["deployment"])

    async def _v1(self, request: Request) -> Response:
        return await self._serve(request, None)

    def _authorised(self, request: Request) -> bool:
        if request.headers.get("api-key") == self.api_key:
            return True
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        issued = self.tokens.issued_for(token) if self.tokens and scheme == "Bearer" else None
        return issued is not None and issued.scope == SCOPE

    async def _serve(self, request: Request, deployment: str | None) -> Response:
        if request.path_params["endpoint"] in _MEDIA:
            return await self._serve_media(request, deployment)
        endpoint = _ENDPOINTS.get(request.path_params["endpoint"])
        if endpoint is None:
            return _json(_NOT_FOUND, 404)
        body = orjson.loads(await request.body())
        self.requests.append(
            AzureRequest(request.url.path, dict(request.query_params), dict(request.headers), body)
        )
        try:
            validate_openai_request(endpoint, body)
        except AssertionError as exc:
            self.schema_errors.append(f"{request.url.path}: {exc}")
            return _json(_NOT_FOUND, 400)
        if not self._authorised(request):
            return _json(_DENIED, 401)
        if endpoint is Endpoint.RESPONSES and deployment is not None:
            return _json(_NOT_FOUND, 404)  # Azure serves Responses on its v1 path only
        if (deployment or body.get("model")) not in self.deployments:
            return _json(
                {
                    "error": {
                        "code": "DeploymentNotFound",
                        "message": "The API deployment for this resource does not exist.",
                    }
                },
                404,
            )
        if self.content_filter and endpoint is Endpoint.CHAT_COMPLETIONS:
            recorded = fixtures.load_bytes(
                "azure_openai", "error_400_content_filter", "response.json"
            )
            return Response(recorded, status_code=400, media_type="application/json")
        if endpoint is Endpoint.RESPONSES:
            return _responses(body)
        reply = demo_server.respond(f"/{request.path_params['endpoint']}", body)
        if reply.is_stream:
            return StreamingResponse(_azure_stream(reply.events), media_type="text/event-stream")
        return Response(
            _azure_body(reply.body), status_code=reply.status, media_type="application/json"
        )

    async def _serve_media(self, request: Request, deployment: str | None) -> Response:
        """Azure's image and audio operations, answered as OpenAI answers them."""
        operation = request.path_params["endpoint"]
        form = await request.form() if operation.startswith("audio/transcriptions") else None
        try:
            body: dict[str, Any] = (
                {name: value for name, value in form.items() if isinstance(value, str)}
                if form is not None
                else orjson.loads(await request.body())
            )
            self.requests.append(
                AzureRequest(
                    request.url.path, dict(request.query_params), dict(request.headers), body
                )
            )
            if not self._authorised(request):
                return _json(_DENIED, 401)
            if (deployment or body.get("model")) not in self.deployments:
                return _json(_NOT_FOUND, 404)
            if form is not None:
                return await fake_media.transcript(form, translation=False)
            if operation == "audio/speech":
                return fake_media.speech(body)
            answer = fake_media.images("dall-e-3", int(body.get("n") or 1), "b64_json")
            return _json(answer, 200)
        finally:
            if form is not None:
                await form.close()


def _responses(body: dict[str, Any]) -> Response:
    now = int(time.time())
    if body.get("stream") is not True:
        return _json(fake_responses.response(body, now), 200)
    frames = fake_responses.sse(fake_responses.events(body, now))
    return StreamingResponse(iter(frames), media_type="text/event-stream")


def _json(body: dict[str, Any], status: int) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _with_filters(data: dict[str, Any]) -> dict[str, Any]:
    for choice in data.get("choices") or []:
        choice["content_filter_results"] = _FILTERS
    return data


def _azure_body(raw: bytes) -> bytes:
    data = orjson.loads(raw)
    if "choices" in data:
        data["prompt_filter_results"] = _PROMPT_FILTER["prompt_filter_results"]
    return orjson.dumps(_with_filters(data))


async def _azure_stream(events: tuple[bytes, ...]) -> Any:
    yield b"data: " + orjson.dumps(_PROMPT_FILTER) + b"\n\n"
    for event in events:
        if event == b"[DONE]":
            yield b"data: [DONE]\n\n"
        else:
            yield b"data: " + orjson.dumps(_with_filters(orjson.loads(event))) + b"\n\n"
