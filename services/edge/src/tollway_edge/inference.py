"""The inference flow shared by every /v1 endpoint: check, dispatch, relay.

Authenticate, parse just what the edge needs, resolve the model, publish one InferRequest and
relay the replies: as one JSON body, or as SSE once the first chunk has arrived, so errors
before the first byte still get their proper HTTP status.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from pydantic_core import PydanticSerializationError
from starlette.requests import Request
from starlette.responses import Response

from tollway_common import contract, http_metrics
from tollway_common.contract import (
    ClientInfo,
    Endpoint,
    InferRequest,
    ReplyKind,
    ResolvedRoute,
    TenantCredential,
    Usage,
)
from tollway_common.errors import InvalidRequest, PayloadTooLarge, RouterLost
from tollway_common.forms import FORM_ENDPOINTS
from tollway_edge import dialects, relay, sse, token_count
from tollway_edge.admission import admit
from tollway_edge.auth import Caller, UnknownKey, authenticate, presented_key
from tollway_edge.body import Head, parse_body, read_body
from tollway_edge.client_info import client_info
from tollway_edge.disconnects import DisconnectWatch
from tollway_edge.dispatch import ClientGone, Reply
from tollway_edge.errors import ReplyError, failure_event
from tollway_edge.forms import parse_form
from tollway_edge.limits.gate import Ticket
from tollway_edge.request_facts import read_facts, upstream_body, writes_tokens
from tollway_edge.runtime import Runtime
from tollway_edge.tenancy import Tenant, authenticate_tenant, offers_tenancy

_JSON = "application/json"
# A router's error means the upstream produced nothing billable.
NO_USAGE = Usage()


async def handle(
    request: Request,
    endpoint: Endpoint,
    runtime: Runtime,
    request_id: str,
    *,
    path_model: str | None = None,
) -> Response:
    """Serve one inference request; `path_model` is the alias the path named (an Azure
    deployment path), which the body's `model` does not override."""
    identity = await _identify(request, runtime)
    settings = runtime.settings
    raw = await read_body(request, settings.max_body_bytes, settings.http.body_timeout_s)
    runtime.mux.check_size(len(raw))
    if endpoint in FORM_ENDPOINTS:
        content_type = request.headers.get("content-type", "")
        body, head = await parse_form(raw, content_type, endpoint, model=path_model)
    else:
        body, head = parse_body(raw, endpoint, settings.max_json_depth, model=path_model)
    asked = read_facts(endpoint, body, request.headers.get("anthropic-beta"))
    tenant: Tenant | None = None
    if isinstance(identity, UnknownKey):
        key = presented_key(request.headers) or ""
        tenant = authenticate_tenant(key, head.model, runtime.catalog.models.items, identity)
        caller = tenant.caller
    else:
        caller = identity
    facts = admit(caller, endpoint, head.model, asked)
    model = tenant.model if tenant is not None else runtime.catalog.resolve(head.model)
    # Set before admission, so a request refused by a limit is counted under its model too.
    request.scope["state"][http_metrics.MODEL_STATE_KEY] = model.name
    client = client_info(request, runtime.client_ip_salt)
    ticket = await runtime.gate.admit(
        caller,
        endpoint,
        model,
        facts,
        request_id,
        client,
        runtime.settings.request_timeout_s,
    )
    # A budget may have downshifted the request to another model.
    request.scope["state"][http_metrics.MODEL_STATE_KEY] = ticket.model.name
    if endpoint is Endpoint.MESSAGES_COUNT_TOKENS and not token_count.counts_upstream(ticket.model):
        runtime.gate.settle_later(ticket, NO_USAGE)
        headers = {**ticket.headers, dialects.REQUEST_ID_HEADER: request_id}
        return Response(token_count.estimated_count(asked), media_type=_JSON, headers=headers)
    credential = tenant.credential if tenant is not None else None
    sent = upstream_body(body, endpoint, asked, ticket.facts)
    infer = _infer_request(
        request_id, endpoint, caller, ticket, sent, head, runtime, client, credential
    )
    outcome = Outcome()
    try:
        return await _dispatch(request, runtime, infer, ticket, outcome)
    finally:
        if not outcome.streaming:
            runtime.gate.settle_later(ticket, outcome.usage, served_model=outcome.served_model)


async def _identify(request: Request, runtime: Runtime) -> Caller | UnknownKey:
    """The caller, or, when the key is no virtual key but some model takes per-request Foundry
    credentials, the refusal to raise unless the body's model turns out to be such a model."""
    try:
        return await authenticate(request.headers, runtime.catalog, runtime.oidc)
    except UnknownKey as exc:
        if not offers_tenancy(runtime.catalog.models.items):
            raise
        return exc


class Outcome:
    """What the reply told the edge: the usage to settle with, the alias that answered, and
    whether a stream took over the request (it settles when it ends)."""

    __slots__ = ("served_model", "streaming", "usage")

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self.served_model = ""
        self.streaming = False


def _infer_request(
    request_id: str,
    endpoint: Endpoint,
    caller: Caller,
    ticket: Ticket,
    body: dict[str, Any],
    head: Head,
    runtime: Runtime,
    client: ClientInfo,
    tenant: TenantCredential | None = None,
) -> InferRequest:
    now = time.time()
    return InferRequest(
        request_id=request_id,
        endpoint=endpoint,
        principal=caller.principal,
        route=ResolvedRoute(alias=ticket.alias, catalog_revision=runtime.catalog.models.revision),
        received_at_ms=int(now * 1000),
        deadline_ms=int((now + runtime.settings.request_timeout_s) * 1000),
        stream=bool(head.stream) and writes_tokens(endpoint),
        include_usage=bool(head.stream_options and head.stream_options.include_usage),
        body=body,
        client=client,
        log_bodies=caller.rules.log_bodies,
        tenant=tenant,
        facts=ticket.facts,
    )


async def _dispatch(
    request: Request, runtime: Runtime, infer: InferRequest, ticket: Ticket, outcome: Outcome
) -> Response:
    request_id = infer.request_id
    deadline = time.monotonic() + runtime.settings.request_timeout_s
    try:
        payload = _encoded(infer, runtime)
    except (InvalidRequest, PayloadTooLarge):
        outcome.usage = NO_USAGE
        raise
    token = runtime.mux.new_token()
    replies = runtime.mux.replies(
        contract.infer_subject(infer.endpoint), payload, request_id, deadline, token
    )
    # Until the answer starts, a disconnect would go unnoticed: watch for it.
    watch = DisconnectWatch(request, functools.partial(runtime.mux.abandon, token))
    try:
        first = await anext(replies)
        if first.kind is ReplyKind.ERROR:
            outcome.usage = NO_USAGE
            raise ReplyError(contract.decode_error_reply(first.data))
        headers = _answer_headers(ticket, infer)
        if infer.stream:
            # The watch keeps watching while the stream runs; the response stops it.
            outcome.streaming = True
            watch.start()
            events = _relay_stream(first, replies, runtime, infer, ticket)
            return sse.SseResponse(events, watch.stop, headers)
        if first.kind is ReplyKind.HEAD:
            # Audio or a plain-text transcript: relayed as it comes, settled when it ends.
            outcome.streaming = True
            watch.start()
            chunks = relay.relay_bytes(replies, runtime, infer, ticket)
            return relay.BytesResponse(first.data.decode(), chunks, watch.stop, headers)
        payload = await _collect(first, replies, outcome, ticket.active)
        return Response(payload, media_type=_JSON, headers=headers)
    except ClientGone:
        return Response(status_code=499)
    except StopAsyncIteration:
        raise RouterLost("The router ended the reply without an answer.") from None
    except RouterLost as exc:
        runtime.estimates.submit(infer, exc, chunks_relayed=0)
        raise
    finally:
        if not outcome.streaming:
            watch.stop()


def _answer_headers(ticket: Ticket, infer: InferRequest) -> dict[str, str]:
    name = dialects.for_endpoint(infer.endpoint).request_id_header
    return ticket.headers if name is None else {**ticket.headers, name: infer.request_id}


def _encoded(infer: InferRequest, runtime: Runtime) -> bytes:
    """The request as the router receives it; re-encoding can make a body larger than the one
    the client sent (`1e2` becomes `100.0`), so its size is checked again here."""
    try:
        payload = contract.encode(infer)
    except (PydanticSerializationError, ValueError) as exc:
        raise InvalidRequest(f"The request body cannot be forwarded: {exc}.") from exc
    runtime.mux.check_size(len(payload))
    return payload


async def _collect(
    first: Reply, replies: AsyncGenerator[Reply, None], outcome: Outcome, want_usage: bool
) -> bytes:
    payload = _last_chunk(first)
    async for reply in replies:
        if reply.kind in (ReplyKind.CHUNK, ReplyKind.CHUNKS):
            payload = _last_chunk(reply)
        elif reply.kind is ReplyKind.FINAL and want_usage:
            final = contract.decode_final_reply(reply.data)
            outcome.usage = final.usage
            outcome.served_model = final.served_model
        elif reply.kind is ReplyKind.ERROR:
            outcome.usage = NO_USAGE
            raise ReplyError(contract.decode_error_reply(reply.data))
    if not payload:
        raise RouterLost("The router finished without a response body.")
    return payload


def _last_chunk(reply: Reply) -> bytes:
    if reply.kind is ReplyKind.CHUNKS:
        return reply.pieces[-1]
    return reply.data if reply.kind is ReplyKind.CHUNK else b""


async def _relay_stream(
    first: Reply,
    replies: AsyncGenerator[Reply, None],
    runtime: Runtime,
    infer: InferRequest,
    ticket: Ticket,
) -> AsyncIterator[bytes]:
    # A client that leaves makes `replies` raise ClientGone (the disconnect watcher), and
    # closing `replies` tells the router to cancel the upstream call.
    relayed = 0
    usage: Usage | None = None
    served_model = ""
    dialect = dialects.for_endpoint(infer.endpoint)
    event = dialect.event
    try:
        if first.kind is ReplyKind.CHUNK:
            relayed += 1
            yield event(first.data)
        elif first.kind is ReplyKind.CHUNKS:
            relayed += len(first.pieces)
            yield b"".join(map(event, first.pieces))
        async for reply in replies:
            if reply.kind is ReplyKind.CHUNK:
                relayed += 1
                yield event(reply.data)
            elif reply.kind is ReplyKind.CHUNKS:
                # Chunks that were ready together go to the client in one write.
                relayed += len(reply.pieces)
                yield b"".join(map(event, reply.pieces))
            elif reply.kind is ReplyKind.FINAL and ticket.active:
                final = contract.decode_final_reply(reply.data)
                usage, served_model = final.usage, final.served_model
            elif reply.kind is ReplyKind.ERROR:
                error = contract.decode_error_reply(reply.data)
                yield dialect.error_event(error.status, error.error, relayed)
                return
        if dialect.done:
            yield dialect.done
    except ClientGone:
        return
    except Exception as exc:
        if isinstance(exc, RouterLost):
            runtime.estimates.submit(infer, exc, relayed)
        yield failure_event(exc, dialect, relayed)
    finally:
        runtime.gate.settle_later(ticket, usage, relayed, served_model)
        with contextlib.suppress(Exception):
            await replies.aclose()
