"""The router's request handling in the test's own process: a real nats-server (replies, the
usage stream, the models and health buckets), the real `Handler`, `Chooser` and `HealthBoard`,
and an upstream that answers from a script per deployment (the router's own `Upstream`, so
deployments without a script, such as the in-process demo provider, go where they always go).

No subprocess, no edge: a test hands the handler an `InferRequest` and reads what it
published, so the routing branches run in milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import nats
import orjson
from nats.aio.client import Client
from nats.aio.subscription import Subscription
from nats.nuid import NUID

from tollway_cli.servers import NatsServer
from tollway_common import contract, nats_client
from tollway_common.contract import (
    Endpoint,
    ErrorReply,
    FinalReply,
    InferRequest,
    Principal,
    ReplyKind,
    ResolvedRoute,
    UsageEvent,
)
from tollway_common.control import (
    Deployment,
    ModelAlias,
    decode_model_alias,
    encode_record,
    kv_key_for_alias,
)
from tollway_common.kv_mirror import KvMirror
from tollway_common.secret_refs import SecretResolver
from tollway_edge.request_facts import read_facts
from tollway_router.credentials.resolve import Credential, Credentials
from tollway_router.credentials.token_cache import TokenCache
from tollway_router.handler import Handler
from tollway_router.providers.adapter import HttpCall
from tollway_router.replies import Heartbeats
from tollway_router.routing.health import HealthBoard
from tollway_router.settings import ManagedIdentitySettings
from tollway_router.upstream import demo_server
from tollway_router.upstream.client import Upstream, UpstreamResponse

ROUTER_ID = "router-in-process"
_REPLY_WAIT_S = 5.0


@dataclass(frozen=True)
class Scripted:
    """One upstream answer: a status with a body, or a 200 stream of raw SSE bytes; `hang`
    keeps the stream open after its bytes until the call is cancelled."""

    status: int = 200
    body: bytes = b""
    stream: tuple[bytes, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    hang: bool = False


def openai_error(status: int, code: str | None = None, message: str = "boom") -> Scripted:
    kind = "rate_limit_error" if status == 429 else "invalid_request_error"
    error = {"message": message, "type": kind, "param": None, "code": code}
    headers = {"retry-after": "60"} if status == 429 else {}
    return Scripted(status=status, body=orjson.dumps({"error": error}), headers=headers)


def answer(text_of: str = "scripted") -> Scripted:
    """A whole OpenAI stream, as the demo provider answers `text_of`."""
    body = {"model": "m", "messages": [{"role": "user", "content": text_of}], "stream": True}
    reply = demo_server.respond("/chat/completions", body)
    return Scripted(stream=(demo_server.sse_bytes(reply.events),))


def first_event_only(text_of: str = "scripted") -> Scripted:
    """A stream that sends its first chunk and then ends without [DONE]."""
    body = {"model": "m", "messages": [{"role": "user", "content": text_of}], "stream": True}
    reply = demo_server.respond("/chat/completions", body)
    return Scripted(stream=(demo_server.sse_bytes(reply.events[:1]),))


class _ScriptedResponse:
    def __init__(self, scripted: Scripted) -> None:
        self._scripted = scripted

    @property
    def status(self) -> int:
        return self._scripted.status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._scripted.headers

    async def read(self) -> bytes:
        return self._scripted.body

    async def chunks(self) -> AsyncIterator[bytes]:
        for data in self._scripted.stream:
            yield data
        if self._scripted.hang:
            await asyncio.Event().wait()


class ScriptedUpstream(Upstream):
    """Deployments named in `scripts` answer from it, one entry per call, in order."""

    def __init__(self, scripts: Mapping[str, Iterable[Scripted]] | None = None) -> None:
        super().__init__(connect_timeout_s=1.0, max_connections=1)
        self.scripts = {name: list(answers) for name, answers in (scripts or {}).items()}
        self.calls: list[tuple[str, HttpCall, tuple[str, str] | None]] = []
        self.opened = asyncio.Event()

    def open(
        self,
        deployment: Deployment,
        call: HttpCall,
        auth: tuple[str, str] | None,
        credential: Credential | None = None,
    ) -> AbstractAsyncContextManager[UpstreamResponse]:
        self.calls.append((deployment.name, call, auth))
        self.opened.set()
        answers = self.scripts.get(deployment.name)
        if answers is None:
            return super().open(deployment, call, auth, credential)
        assert answers, f"deployment {deployment.name!r} was called more often than scripted"
        return _respond(answers.pop(0))

    @property
    def called(self) -> list[str]:
        return [name for name, _, _ in self.calls]


@asynccontextmanager
async def _respond(scripted: Scripted) -> AsyncIterator[UpstreamResponse]:
    yield _ScriptedResponse(scripted)


@dataclass(frozen=True)
class Served:
    """What the handler published for one request: its replies in order, and its usage."""

    chunks: list[bytes]
    final: FinalReply | None
    error: ErrorReply | None
    seqs: list[int]
    usage: UsageEvent

    @property
    def text(self) -> str:
        parts: list[str] = []
        for data in self.chunks:
            for choice in orjson.loads(data)["choices"]:
                delta = choice.get("delta") or choice.get("message") or {}
                parts.append(delta.get("content") or "")
        return "".join(parts)


class InProcessRouter:
    """The handler serves on the test's connection, which also plays the edge (its reply
    subjects) and watches usage."""

    def __init__(self, nc: Client, handler: Handler, usage: Subscription) -> None:
        self.nc = nc
        self.handler = handler
        self._usage = usage

    @property
    def upstream(self) -> ScriptedUpstream:
        assert isinstance(self.handler.upstream, ScriptedUpstream)
        return self.handler.upstream

    async def serve(
        self,
        alias: str,
        body: Mapping[str, Any] | None = None,
        endpoint: Endpoint = Endpoint.CHAT_COMPLETIONS,
        **fields: Any,
    ) -> Served:
        infer = self._infer(alias, body, endpoint, **fields)
        inbox = _edge_reply_subject()
        replies = await self.nc.subscribe(inbox)
        try:
            await self.handler.serve(infer, inbox)
            await self.nc.flush()
            return await self._collect(replies, infer.request_id)
        finally:
            await replies.unsubscribe()

    async def cancel_once_upstream_opened(
        self, alias: str, body: Mapping[str, Any] | None = None
    ) -> UsageEvent:
        """Serve until the upstream call is open, then cancel the request as a client that
        went away does; returns the request's usage event."""
        infer = self._infer(alias, body, Endpoint.CHAT_COMPLETIONS)
        serving = asyncio.create_task(self.handler.serve(infer, _edge_reply_subject()))
        await self.upstream.opened.wait()
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        return await self._usage_event(infer.request_id)

    def _infer(
        self,
        alias: str,
        body: Mapping[str, Any] | None,
        endpoint: Endpoint,
        **fields: Any,
    ) -> InferRequest:
        request = body if body is not None else {"messages": [{"role": "user", "content": "hi"}]}
        request = {"model": alias, **request}
        now_ms = int(time.time() * 1000)
        # A test may bring the facts the edge would read (endpoints the edge reads elsewhere).
        fields.setdefault("facts", None)
        if fields["facts"] is None:
            fields["facts"] = read_facts(endpoint, request)
        return InferRequest(
            request_id=f"req-{now_ms}-{len(self.upstream.calls)}",
            endpoint=endpoint,
            principal=Principal(key_id="k1"),
            route=ResolvedRoute(alias=alias),
            received_at_ms=now_ms,
            deadline_ms=now_ms + 30_000,
            stream=bool(request.get("stream")),
            body=request,
            **fields,
        )

    async def _usage_event(self, request_id: str) -> UsageEvent:
        usage = contract.decode_usage_event((await self._usage.next_msg(_REPLY_WAIT_S)).data)
        assert usage.request_id == request_id
        return usage

    async def _collect(self, replies: Subscription, request_id: str) -> Served:
        chunks: list[bytes] = []
        seqs: list[int] = []
        final: FinalReply | None = None
        error: ErrorReply | None = None
        while final is None and error is None:
            message = await replies.next_msg(timeout=_REPLY_WAIT_S)
            headers = message.headers or {}
            kind = ReplyKind(headers[contract.HEADER_KIND])
            if kind is ReplyKind.HEARTBEAT:
                continue
            seqs.append(int(headers[contract.HEADER_SEQ]))
            if kind is ReplyKind.CHUNK:
                chunks.append(message.data)
            elif kind is ReplyKind.CHUNKS:
                chunks.extend(contract.split_chunks(message.data, headers[contract.HEADER_SIZES]))
            elif kind is ReplyKind.FINAL:
                final = contract.decode_final_reply(message.data)
            else:
                error = contract.decode_error_reply(message.data)
        return Served(chunks, final, error, seqs, await self._usage_event(request_id))


def _edge_reply_subject() -> str:
    """A subject like an edge's reply inbox: the only place a router may publish replies."""
    return f"{contract.reply_inbox_prefix('harness')}.{NUID().next().decode()}"


@asynccontextmanager
async def in_process_router(
    nats_server: NatsServer, models: Iterable[ModelAlias], upstream: ScriptedUpstream | None = None
) -> AsyncIterator[InProcessRouter]:
    # One connection for the test and the handler: with the handler on a connection of its own,
    # replies were missed about one run in two (the closed bus is proven in test_closed_bus.py).
    nc = await nats.connect(nats_server.url_as("test"))
    js = nc.jetstream()
    models_mirror: KvMirror[ModelAlias] | None = None
    health: HealthBoard | None = None
    handler: Handler | None = None
    upstream = upstream or ScriptedUpstream()
    try:
        await nats_client.ensure_usage_stream(nc.jetstream(), 1)
        usage = await nc.subscribe(contract.USAGE_SUBJECT)
        admin_models = await nats_client.ensure_kv(nc.jetstream(), contract.KV_MODELS, 1)
        for model in models:
            await admin_models.put(kv_key_for_alias(model.name), encode_record(model))
        models_kv = await nats_client.ensure_kv(js, contract.KV_MODELS, 1)
        models_mirror = KvMirror(models_kv, decode_model_alias)
        await models_mirror.start()
        health_kv = await nats_client.ensure_kv(js, contract.KV_HEALTH, 1)
        health = HealthBoard(health_kv, ROUTER_ID, invalid_probe_after_s=300)
        await health.start()
        secrets = SecretResolver()
        handler = Handler(
            nc=nc,
            js=js,
            models=models_mirror,
            upstream=upstream,
            credentials=Credentials(secrets, TokenCache(secrets, ManagedIdentitySettings())),
            health=health,
            router_id=ROUTER_ID,
            heartbeats=Heartbeats(interval_s=60.0),
            # No backoff between tries of the same deployment: the tests wait for nothing.
            rand=lambda: 0.0,
        )
        yield InProcessRouter(nc, handler, usage)
    finally:
        if handler is not None:
            await handler.usage.close(5.0)  # usage events still waiting for their acks
        await upstream.close()  # the pooled connections to unscripted deployments
        if health is not None:
            await health.stop()
        if models_mirror is not None:
            await models_mirror.stop()
        await nc.close()
