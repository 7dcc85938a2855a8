"""A fake OpenAI-compatible upstream on loopback, for integration tests.

It answers like OpenAI (the router's deterministic `demo_server` supplies the bodies), checks
every request it receives against OpenAI's request schema, records them, and misbehaves on cue:
an error status, a hang, or a slow stream that notices when the client goes away.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from starlette.applications import Starlette
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tests.support import fake_media, fake_responses
from tests.support.openai_schema import validate_openai_request
from tests.support.threaded_server import ServedInThread, ThreadedServer
from tollway_common.contract import Endpoint
from tollway_router.upstream import demo_server

_PATHS = {
    "/v1/chat/completions": Endpoint.CHAT_COMPLETIONS,
    "/v1/completions": Endpoint.COMPLETIONS,
    "/v1/embeddings": Endpoint.EMBEDDINGS,
    "/v1/moderations": Endpoint.MODERATIONS,
    "/v1/responses": Endpoint.RESPONSES,
}
MODERATION_CATEGORIES = (
    "hate",
    "hate/threatening",
    "harassment",
    "harassment/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
# Image, audio and rerank paths (`fake_media.py` answers them): the JSON ones with the endpoint
# whose OpenAI request schema checks them (rerank is not OpenAI's), the others read as forms.
_MEDIA_JSON = {
    "/v1/images/generations": Endpoint.IMAGES_GENERATIONS,
    "/v1/audio/speech": Endpoint.AUDIO_SPEECH,
    "/v1/rerank": None,
}
_MEDIA_FORMS = (
    "/v1/images/edits",
    "/v1/images/variations",
    "/v1/audio/transcriptions",
    "/v1/audio/translations",
)
_SLOW_STREAM_CHUNKS = 100


@dataclass(frozen=True)
class Fault:
    """`status`: answer `status` with `headers` and `body` (JSON object or raw bytes; an
    OpenAI error body by default). `hang`: never answer, until the client goes away.
    `slow_start`: say nothing for `delay_s`, then answer normally.
    `slow_stream`: stream about 100 chunks `delay_s` apart. `truncated_stream`: send the first
    chunks of a stream, then close the connection cleanly without `[DONE]`. `reset_stream`:
    send the first chunks, then break the connection off mid-body. `burst_stream`: send the
    whole stream in one write, as a fast model's events arrive together."""

    kind: Literal[
        "status",
        "hang",
        "slow_start",
        "slow_stream",
        "truncated_stream",
        "reset_stream",
        "burst_stream",
    ]
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | bytes | None = None
    delay_s: float = 0.1
    # Misbehave for this many requests, then answer normally again; None is for ever.
    times: int | None = None


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]
    json: dict[str, Any]


def _default_error(status: int) -> dict[str, Any]:
    return {
        "error": {
            "message": f"fake upstream failure {status}",
            "type": "server_error" if status >= 500 else "invalid_request_error",
            "param": None,
            "code": None,
        }
    }


def _revoked_error() -> dict[str, Any]:
    return {
        "error": {
            "message": "Incorrect API key provided.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }


def _fault_response(fault: Fault) -> Response:
    body = fault.body if fault.body is not None else _default_error(fault.status)
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return Response(
        raw, status_code=fault.status, headers=fault.headers, media_type="application/json"
    )


def moderation(body: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's answer to a moderation request: one result per input, flagging `violence` in
    any text that mentions a kill (the spec's own example input)."""
    raw = body["input"]
    inputs = [raw] if isinstance(raw, str) else raw
    results = []
    for item in inputs:
        text = item if isinstance(item, str) else str(item.get("text", ""))
        kind = "text" if isinstance(item, str) or item.get("type") == "text" else "image"
        flagged = "kill" in text
        results.append(
            {
                "flagged": flagged,
                "categories": {
                    name: flagged and name == "violence" for name in MODERATION_CATEGORIES
                },
                "category_scores": {
                    name: 0.9 if flagged and name == "violence" else 0.001
                    for name in MODERATION_CATEGORIES
                },
                "category_applied_input_types": {name: [kind] for name in MODERATION_CATEGORIES},
            }
        )
    return {"id": "modr-fake-1", "model": str(body.get("model") or ""), "results": results}


async def _form_record(form: FormData) -> dict[str, Any]:
    """A form as a test reads it: text fields as they came (a list when repeated), a file as
    its name, content type and size."""
    record: dict[str, Any] = {}
    for name, item in form.multi_items():
        value: Any = item
        if isinstance(item, UploadFile):
            data = await item.read()
            await item.seek(0)
            value = {
                "filename": item.filename,
                "content_type": item.content_type,
                "size": len(data),
            }
        if name in record:
            previous = record[name]
            record[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            record[name] = value
    return record


class FakeOpenAIServer(ServedInThread):
    """`with FakeOpenAIServer() as server:` serves `server.base_url` (`http://127.0.0.1:PORT/v1`)
    from a thread with its own event loop; set `server.fault` to misbehave."""

    invalid_requests = "the gateway sent invalid requests upstream"

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.schema_errors: list[str] = []
        self.fault: Fault | None = None
        self.stream_cancelled = threading.Event()
        self.stream_completed = threading.Event()
        self.hang_abandoned = threading.Event()
        # Bearer secrets this server refuses with 401, as a provider does a revoked key.
        self.revoked: set[str] = set()
        self._faults_served = 0
        routes = [Route(path, self._serve, methods=["POST"]) for path in _PATHS]
        routes += [
            Route(path, self._serve_media, methods=["POST"])
            for path in (*_MEDIA_JSON, *_MEDIA_FORMS)
        ]
        routes.append(Route("/v1/models", self._models, methods=["GET"]))
        self._server = ThreadedServer(Starlette(routes=routes), "fake OpenAI server")
        self.port = self._server.port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def reset(self) -> None:
        """Forget what earlier tests sent and set up, as a fresh server would."""
        self.requests.clear()
        self.schema_errors.clear()
        self.fault = None
        self._faults_served = 0
        self.revoked.clear()
        for event in (self.stream_cancelled, self.stream_completed, self.hang_abandoned):
            event.clear()

    async def _models(self, request: Request) -> Response:
        return Response(demo_server.models(int(time.time())).body, media_type="application/json")

    async def _serve(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = orjson.loads(raw)
            self.requests.append(RecordedRequest(request.url.path, dict(request.headers), body))
            validate_openai_request(_PATHS[request.url.path], body)
        except (orjson.JSONDecodeError, AssertionError) as exc:
            self.schema_errors.append(f"{request.url.path}: {exc}")
            return Response(orjson.dumps(_default_error(400)), status_code=400)
        secret = request.headers.get("authorization", "").removeprefix("Bearer ")
        if secret in self.revoked:
            return _fault_response(Fault(kind="status", status=401, body=_revoked_error()))
        fault = self._take_fault()
        if fault is not None and fault.kind == "status":
            return _fault_response(fault)
        if fault is not None and fault.kind == "hang":
            # The body is read, so the next ASGI message is the client's disconnect.
            while (await request.receive())["type"] != "http.disconnect":
                pass
            self.hang_abandoned.set()
            return Response(status_code=499)
        if fault is not None and fault.kind == "slow_start":
            await asyncio.sleep(fault.delay_s)
        if _PATHS[request.url.path] is Endpoint.MODERATIONS:
            return Response(orjson.dumps(moderation(body)), media_type="application/json")
        if _PATHS[request.url.path] is Endpoint.RESPONSES:
            return self._responses(body, fault)
        reply = demo_server.respond(request.url.path, body)
        if not reply.is_stream:
            return Response(reply.body, status_code=reply.status, media_type="application/json")
        return self._stream_response(reply.events, fault)

    def _stream_response(self, events: tuple[bytes, ...], fault: Fault | None) -> Response:
        delay = 0.0
        if fault is not None and fault.kind == "slow_stream":
            filler = events[1:2] * _SLOW_STREAM_CHUNKS
            events = (events[0], *filler, *events[1:])
            delay = fault.delay_s
        if fault is not None and fault.kind in ("truncated_stream", "reset_stream"):
            events = events[:3]
        reset = fault is not None and fault.kind == "reset_stream"
        if fault is not None and fault.kind == "burst_stream":
            return self._burst(events)
        return StreamingResponse(self._stream(events, delay, reset), media_type="text/event-stream")

    def _burst(self, events: tuple[bytes, ...]) -> Response:
        self.stream_completed.set()
        return Response(demo_server.sse_bytes(events), media_type="text/event-stream")

    def _responses(self, body: dict[str, Any], fault: Fault | None) -> Response:
        now = int(time.time())
        if body.get("stream") is not True:
            answer = fake_responses.response(body, now)
            return Response(orjson.dumps(answer), media_type="application/json")
        frames = fake_responses.sse(fake_responses.events(body, now))
        if fault is not None and fault.kind in ("truncated_stream", "reset_stream"):
            frames = frames[:3]
        reset = fault is not None and fault.kind == "reset_stream"
        return StreamingResponse(self._frames(tuple(frames), reset), media_type="text/event-stream")

    async def _frames(self, frames: tuple[bytes, ...], reset: bool) -> AsyncIterator[bytes]:
        for frame in frames:
            yield frame
        if reset:
            raise ConnectionResetError("fake upstream breaks the stream off")
        self.stream_completed.set()

    async def _serve_media(self, request: Request) -> Response:
        if request.url.path not in _MEDIA_FORMS:
            return await self._answer_media(request, orjson.loads(await request.body()), None)
        form = await request.form()
        try:
            return await self._answer_media(request, await _form_record(form), form)
        finally:
            await form.close()

    async def _answer_media(
        self, request: Request, body: dict[str, Any], form: FormData | None
    ) -> Response:
        path = request.url.path
        endpoint = _MEDIA_JSON.get(path)
        if endpoint is not None:
            try:
                validate_openai_request(endpoint, body)
            except AssertionError as exc:
                self.schema_errors.append(f"{path}: {exc}")
                return Response(orjson.dumps(_default_error(400)), status_code=400)
        self.requests.append(RecordedRequest(path, dict(request.headers), body))
        fault = self._take_fault()
        if fault is not None and fault.kind == "status":
            return _fault_response(fault)
        if path == "/v1/audio/speech":
            return fake_media.speech(
                body, broken=fault is not None and fault.kind == "reset_stream"
            )
        if path == "/v1/rerank":
            return Response(orjson.dumps(fake_media.rerank(body)), media_type="application/json")
        if form is not None and path.startswith("/v1/audio/"):
            return await fake_media.transcript(form, translation=path.endswith("translations"))
        answer = fake_media.images(
            str(body.get("model") or "dall-e-2"),
            int(body.get("n") or 1),
            body.get("response_format"),
        )
        return Response(orjson.dumps(answer), media_type="application/json")

    def _take_fault(self) -> Fault | None:
        fault = self.fault
        if fault is None or fault.times is None:
            return fault
        self._faults_served += 1
        if self._faults_served >= fault.times:
            self.fault = None
            self._faults_served = 0
        return fault

    async def _stream(
        self, events: tuple[bytes, ...], delay: float, reset: bool = False
    ) -> AsyncIterator[bytes]:
        finished = False
        try:
            for event in events:
                yield b"data: " + event + b"\n\n"
                if delay:
                    await asyncio.sleep(delay)
            if reset:
                raise ConnectionResetError("fake upstream breaks the stream off")
            finished = True
            self.stream_completed.set()
        finally:
            if not finished:
                self.stream_cancelled.set()
