"""Serve one InferRequest: choose a deployment, call it through its adapter, retry and fall back
while nothing has reached the client yet, reply, meter.

Once the first chunk is on its way to the client a failure ends the stream with an error event:
a client never receives half of one answer and half of another.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from nats.aio.client import Client
from nats.js import JetStreamContext

from tollway_common.contract import Endpoint, FinalReply, InferRequest, UsageEvent
from tollway_common.control import Deployment, ModelAlias, kv_key_for_alias
from tollway_common.errors import (
    InternalError,
    ModelNotFound,
    TollwayError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from tollway_common.kv_mirror import KvMirror
from tollway_common.log import request_id_var
from tollway_router import metrics, spans
from tollway_router.body_log.capture import BodyCapture
from tollway_router.body_log.publisher import BodyLog
from tollway_router.credentials.resolve import Credential, Credentials, for_tenant
from tollway_router.providers.adapter import HttpCall
from tollway_router.providers.errors import scrub
from tollway_router.receipts import Receipts
from tollway_router.replies import Heartbeats, Replier
from tollway_router.responses.session import ResponseSession
from tollway_router.responses.store import ResponseStore
from tollway_router.routing.candidates import Choice, Chooser
from tollway_router.routing.health import HealthBoard
from tollway_router.routing.load import LoadBoard
from tollway_router.routing.retries import Failure, backoff_s, classify, may_retry
from tollway_router.upstream.client import Upstream, UpstreamResponse
from tollway_router.upstream.sse_decoder import SseDecoder
from tollway_router.usage import CLIENT_CLOSED_REQUEST, Outcome, build_event
from tollway_router.usage_publisher import UsagePublisher

log = logging.getLogger(__name__)

_RELAY_PIECE_BYTES = 64 * 1024
_FALLBACK_LISTS = {
    Failure.CONTEXT_LENGTH: "context_window_fallbacks",
    Failure.CONTENT_POLICY: "content_policy_fallbacks",
    Failure.FINAL: None,
}


@dataclass(slots=True)
class Serving:
    """One request while it is served: what every attempt at it shares."""

    infer: InferRequest
    replier: Replier
    outcome: Outcome
    started: float
    # A Responses API request's conversation and storage; None on every other endpoint.
    session: ResponseSession | None = None

    def elapsed_ms(self) -> float:
        return (time.monotonic() - self.started) * 1000


@dataclass(frozen=True, slots=True)
class Attempt:
    """One call of the request to one deployment (and credential) of one alias."""

    serving: Serving
    model: ModelAlias
    choice: Choice

    @property
    def deployment(self) -> Deployment:
        return self.choice.deployment

    @property
    def label(self) -> str:
        """How `Outcome.attempts` names it: "deployment[/credential]"."""
        credential = self.choice.credential
        return self.deployment.name + (f"/{credential}" if credential else "")


@dataclass
class Handler:
    nc: Client
    js: JetStreamContext
    models: KvMirror[ModelAlias]
    upstream: Upstream
    credentials: Credentials
    health: HealthBoard
    router_id: str
    heartbeats: Heartbeats
    body_log: BodyLog | None = None
    responses: ResponseStore | None = None
    receipts: Receipts | None = None
    load: LoadBoard = field(default_factory=LoadBoard)
    chooser: Chooser = field(init=False)
    usage: UsagePublisher = field(init=False)
    rand: Callable[[], float] = random.random

    def __post_init__(self) -> None:
        self.chooser = Chooser(self.health, self.load)
        self.usage = UsagePublisher(self.nc)

    async def serve(self, infer: InferRequest, reply_to: str) -> None:
        """Serve a live request, replying on the edge's inbox `reply_to`."""
        capture = self.body_log.capture_for(infer) if self.body_log is not None else None
        receipt = self.receipts.reply_to(infer.request_id) if self.receipts is not None else ""
        replier = Replier(self.nc, reply_to, self.router_id, capture, receipt)
        await self.answer(infer, replier, capture)

    async def answer(
        self,
        infer: InferRequest,
        replier: Replier,
        capture: BodyCapture | None = None,
        *,
        meter: bool = True,
    ) -> UsageEvent:
        """Serve `infer`, replying through `replier` (an edge's inbox, or a batch line's
        `Collector`); its usage event is published unless `meter` is false (the batch drain
        decides then whether an attempt is the one to meter)."""
        request_id_var.set(infer.request_id)
        started = time.monotonic()
        self.heartbeats.opened(replier)
        serving = Serving(infer, replier, Outcome(), started)
        outcome = serving.outcome
        try:
            timeout = max(0.0, infer.deadline_ms / 1000 - time.time())
            async with asyncio.timeout(timeout):
                if infer.endpoint is Endpoint.RESPONSES and self.responses is not None:
                    serving.session = ResponseSession(self.responses, infer)
                    serving.infer = await serving.session.expand()
                await self._serve(serving)
        except TollwayError as exc:
            await self._fail(serving, exc)
        except TimeoutError:
            await self._fail(serving, UpstreamTimeout("The request ran past its deadline."))
        except asyncio.CancelledError:
            outcome.status_code = CLIENT_CLOSED_REQUEST
            outcome.error_type = "cancelled"
            raise
        except Exception:
            log.exception("unexpected error while serving a request")
            await self._fail(
                serving,
                InternalError("The router hit an unexpected error; the request id identifies it."),
            )
        finally:
            self.heartbeats.closed(replier)
            event = build_event(infer, outcome, serving.elapsed_ms(), self.router_id)
            if self.receipts is not None and replier.receipt and outcome.status_code < 400:
                event = self.receipts.settle(event)
            metrics.observe_request(event)
            spans.record_result(event)
            if meter:
                await self._meter(event)
            if capture is not None and self.body_log is not None:
                self.body_log.submit(infer, capture, outcome.status_code)
        return event

    async def _meter(self, event: UsageEvent) -> None:
        """Publish the usage event a request owes, cancelled or not. Awaited in this task when
        the publisher takes it at once (nearly always): it then joins the reply's socket write
        instead of a write of its own a loop turn later, and no shield task is made."""
        if self.usage.taking:
            await self.usage.submit(event)
        else:
            await asyncio.shield(self.usage.submit(event))

    async def _fail(self, serving: Serving, exc: TollwayError) -> None:
        outcome = serving.outcome
        outcome.status_code = exc.status
        outcome.error_type = exc.type
        outcome.error_code = exc.code_override or exc.code
        await serving.replier.error(exc)

    def _model(self, alias: str) -> ModelAlias | None:
        return self.models.items.get(kv_key_for_alias(alias))

    async def _serve(self, serving: Serving) -> None:
        alias = serving.infer.route.alias
        requested = self._model(alias)
        if requested is None:
            raise ModelNotFound(f"The model '{alias}' does not exist.", param="model")
        model = requested
        tried_aliases = {model.name}
        while True:
            try:
                await self._serve_alias(serving, model)
                return
            except TollwayError as exc:
                if serving.replier.started:
                    raise
                fallback = self._fallback(requested, classify(exc), tried_aliases)
                if fallback is None:
                    raise
                log.info(
                    "falling back",
                    extra={"from_model": model.name, "to_model": fallback.name, "why": exc.code},
                )
                serving.outcome.fallbacks += 1
                metrics.record_fallback(
                    requested.name, model.name, fallback.name, exc.code_override or exc.code
                )
                tried_aliases.add(fallback.name)
                model = fallback

    def _fallback(
        self, requested: ModelAlias, failure: Failure, tried: set[str]
    ) -> ModelAlias | None:
        """The next alias to try after `failure`, from the requested alias's lists (a
        fallback's own fallbacks are not followed: the chain stays what the operator wrote)."""
        attribute = _FALLBACK_LISTS.get(failure, "fallbacks")
        if attribute is None:
            return None
        for alias in getattr(requested, attribute):
            candidate = self._model(alias)
            if alias not in tried and candidate is not None:
                return candidate
        return None

    async def _serve_alias(self, serving: Serving, model: ModelAlias) -> None:
        policy = model.retry
        attempts = 0
        tried: set[tuple[str, str]] = set()
        last: TollwayError | None = None
        while True:
            choice = self.chooser.choose(model, serving.infer, tried)
            if not isinstance(choice, Choice):
                wait = choice.soonest_s
                if (
                    last is not None
                    and attempts < policy.max_attempts
                    and wait is not None
                    and wait <= policy.max_retry_after_s
                ):
                    await asyncio.sleep(wait)
                    continue
                raise choice.error(model, last)
            if attempts >= policy.max_attempts:
                assert last is not None
                raise last
            if (choice.deployment.name, choice.credential) in tried:
                await asyncio.sleep(backoff_s(attempts, policy, self.rand))
            attempts += 1
            failure = await self._attempt(Attempt(serving, model, choice))
            if failure is None:
                return
            exc, kind = failure
            if serving.replier.started or not may_retry(kind, policy):
                raise exc
            metrics.record_retry(model.name, choice.deployment.name, exc.code_override or exc.code)
            last = exc
            tried.add((choice.deployment.name, choice.credential))

    async def _attempt(self, attempt: Attempt) -> tuple[TollwayError, Failure] | None:
        """One call to one deployment; returns the failure, or None once the reply is sent."""
        model, choice, deployment = attempt.model, attempt.choice, attempt.deployment
        outcome = attempt.serving.outcome
        # A per-request tenant's key and resource are its own: what they do says nothing
        # about the deployment's health for anyone else.
        claim = (
            None
            if attempt.serving.infer.tenant is not None
            else self.health.claim(model, deployment, choice.credential, choice.probe)
        )
        self.load.started(deployment.name)
        outcome.begin_attempt(model.name, deployment, choice.credential)
        try:
            await self._call(attempt)
        except TollwayError as exc:
            kind = classify(exc)
            self.load.finished(deployment.name, None)
            if claim is not None:
                await self.health.settle(claim, kind, exc.retry_after)
            outcome.attempts.append(f"{attempt.label}:{exc.code_override or exc.code}")
            log.info(
                "upstream attempt failed",
                extra={
                    "deployment": deployment.name,
                    "credential": choice.credential,
                    "code": exc.code_override or exc.code,
                },
            )
            return exc, kind
        except BaseException:
            self.load.finished(deployment.name, None)
            if claim is not None:
                self.health.release(claim)
            outcome.attempts.append(f"{attempt.label}:cancelled")
            raise
        self.load.finished(deployment.name, outcome.upstream_latency_ms)
        if claim is not None:
            await self.health.settle(claim, None)
        outcome.attempts.append(f"{attempt.label}:ok")
        return None

    async def _call(self, attempt: Attempt) -> None:
        serving, deployment, adapter = attempt.serving, attempt.deployment, attempt.choice.adapter
        infer = serving.infer
        deployment = for_tenant(
            attempt.model, self.credentials.with_headers(deployment), infer.tenant
        )
        call = adapter.build_request(infer.endpoint, infer.body, infer.facts, deployment)
        choice = attempt.choice
        credential = await self.credentials.resolve(
            attempt.model, deployment, infer.tenant, choice.api_key, choice.auth, choice.credential
        )
        try:
            await self._exchange(attempt, deployment, call, credential)
        except TollwayError as exc:
            # What a provider may echo back in its error text: the key it was sent, headers.
            scrub(exc, [*deployment.headers.values(), *([credential.value] if credential else [])])
            raise

    async def _exchange(
        self,
        attempt: Attempt,
        deployment: Deployment,
        call: HttpCall,
        credential: Credential | None,
    ) -> None:
        """Send the call upstream and relay its answer (or raise the upstream's error)."""
        serving, adapter = attempt.serving, attempt.choice.adapter
        infer, replier, outcome = serving.infer, serving.replier, serving.outcome
        auth = credential.header(adapter.auth_header) if credential is not None else None
        async with (
            spans.upstream_call(infer, deployment, outcome),
            self.upstream.open(deployment, call, auth, credential) as response,
        ):
            outcome.upstream_latency_ms = serving.elapsed_ms()
            if response.status >= 400:
                raise adapter.parse_error(response.status, response.headers, await response.read())
            if call.stream:
                await self._relay_stream(attempt, response)
            elif call.relay:
                await self._relay_bytes(attempt, response)
            else:
                parsed = adapter.parse_response(infer.endpoint, await response.read(), deployment)
                outcome.usage = parsed.usage
                outcome.upstream_model = parsed.upstream_model or deployment.model
                outcome.ttft_ms = serving.elapsed_ms()
                body = parsed.body
                if serving.session is not None:
                    body = await serving.session.answered(body)
                await replier.chunk(body)
            # Still inside the upstream context: the body and `final` go out back to back, in
            # one socket write, so the edge wakes once for the whole answer.
            await replier.final(
                FinalReply(
                    usage=outcome.usage,
                    deployment=deployment.name,
                    provider=deployment.provider,
                    upstream_model=outcome.upstream_model,
                    upstream_latency_ms=outcome.upstream_latency_ms,
                    served_model=attempt.model.name,
                )
            )

    async def _relay_bytes(self, attempt: Attempt, response: UpstreamResponse) -> None:
        """An answer that is not OpenAI JSON (audio, a plain-text transcript): its content
        type first, then its bytes as they arrive, never the whole file held here."""
        serving, adapter = attempt.serving, attempt.choice.adapter
        content_type = response.headers.get("content-type") or "application/octet-stream"
        await serving.replier.head(content_type)
        async for data in response.chunks():
            if serving.outcome.ttft_ms is None:
                serving.outcome.ttft_ms = serving.elapsed_ms()
            # A socket read may hold more than a NATS message should carry.
            for start in range(0, len(data), _RELAY_PIECE_BYTES):
                await serving.replier.raw(data[start : start + _RELAY_PIECE_BYTES])
        serving.outcome.usage = adapter.relayed_usage(serving.infer.endpoint, serving.infer.body)

    async def _relay_stream(self, attempt: Attempt, response: UpstreamResponse) -> None:
        serving, adapter = attempt.serving, attempt.choice.adapter
        infer, outcome = serving.infer, serving.outcome
        decoder = SseDecoder()
        state = adapter.new_stream_state()
        # One upstream read holds every event that was ready: its chunks go out as one reply
        # message. A chunk is never held for a later read (the next read could wait).
        ready: list[bytes] = []
        try:
            async for data in response.chunks():
                for event in decoder.feed(data):
                    for chunk in adapter.parse_stream_event(event, state):
                        if chunk.usage is not None:
                            outcome.usage = chunk.usage
                        outcome.output_chars += chunk.output_chars
                        if chunk.usage_only and not infer.include_usage:
                            continue
                        if outcome.ttft_ms is None:
                            outcome.ttft_ms = serving.elapsed_ms()
                        data = chunk.data
                        if serving.session is not None:
                            data = await serving.session.relay(chunk)
                        ready.append(data)
                if ready:
                    sent, ready = ready, []
                    await serving.replier.chunks(sent)
        except Exception:
            if ready:  # what came before the failure in the same read still reaches the client
                await serving.replier.chunks(ready)
            raise
        if not adapter.stream_complete(state):
            name = attempt.deployment.name
            raise UpstreamUnavailable(
                f"Deployment '{name}' ended its stream before finishing the answer."
            )
