"""Serve one InferRequest: pick a deployment, call it through its adapter, reply, meter."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client
from nats.js import JetStreamContext

from tollway_common.contract import FinalReply, InferRequest
from tollway_common.control import Deployment, ModelAlias, kv_key_for_alias
from tollway_common.errors import (
    InternalError,
    InvalidRequest,
    ModelNotFound,
    TollwayError,
    UpstreamAuthFailed,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from tollway_common.kv_mirror import KvMirror
from tollway_common.log import request_id_var
from tollway_common.secret_refs import SecretNotFound, SecretResolver
from tollway_router import metrics, spans
from tollway_router.adapter import Adapter
from tollway_router.providers import REGISTRY
from tollway_router.replies import Replier
from tollway_router.selection import WeightedRoundRobin
from tollway_router.sse_decoder import SseDecoder
from tollway_router.upstream import Upstream, UpstreamResponse
from tollway_router.usage import Outcome, build_event, publish_usage

log = logging.getLogger(__name__)

CLIENT_CLOSED_REQUEST = 499


@dataclass
class Handler:
    nc: Client
    js: JetStreamContext
    models: KvMirror[ModelAlias]
    upstream: Upstream
    secrets: SecretResolver
    selector: WeightedRoundRobin
    router_id: str
    heartbeat_interval_s: float

    async def serve(self, infer: InferRequest, reply_to: str) -> None:
        request_id_var.set(infer.request_id)
        started = time.monotonic()
        replier = Replier(self.nc, reply_to, self.router_id)
        replier.start_heartbeats(self.heartbeat_interval_s)
        outcome = Outcome()
        try:
            timeout = max(0.0, infer.deadline_ms / 1000 - time.time())
            async with asyncio.timeout(timeout):
                await self._serve(infer, replier, outcome, started)
        except TollwayError as exc:
            await self._fail(replier, outcome, exc)
        except TimeoutError:
            await self._fail(
                replier, outcome, UpstreamTimeout("The request ran past its deadline.")
            )
        except asyncio.CancelledError:
            outcome.status_code = CLIENT_CLOSED_REQUEST
            outcome.error_type = "cancelled"
            raise
        except Exception:
            log.exception("unexpected error while serving a request")
            await self._fail(
                replier,
                outcome,
                InternalError("The router hit an unexpected error; the request id identifies it."),
            )
        finally:
            await replier.stop_heartbeats()
            latency_ms = (time.monotonic() - started) * 1000
            event = build_event(infer, outcome, latency_ms, self.router_id)
            metrics.observe_request(event)
            spans.record_result(event)
            # Shielded: a cancelled request still owes its usage event.
            await asyncio.shield(publish_usage(self.js, event))

    async def _fail(self, replier: Replier, outcome: Outcome, exc: TollwayError) -> None:
        outcome.status_code = exc.status
        outcome.error_type = exc.type
        outcome.error_code = exc.code_override or exc.code
        await replier.error(exc)

    async def _serve(
        self, infer: InferRequest, replier: Replier, outcome: Outcome, started: float
    ) -> None:
        model = self.models.items.get(kv_key_for_alias(infer.route.alias))
        if model is None:
            raise ModelNotFound(f"The model '{infer.route.alias}' does not exist.", param="model")
        deployment = self.selector.pick(model)
        outcome.deployment = deployment.name
        outcome.provider = deployment.provider
        outcome.upstream_model = deployment.model
        adapter = REGISTRY.get(deployment.provider)
        if adapter is None:
            raise InternalError(
                f"Deployment '{deployment.name}' names provider '{deployment.provider}', "
                "which this router does not know."
            )
        if infer.endpoint not in adapter.endpoints:
            raise InvalidRequest(
                f"Model '{model.name}' is served by provider '{deployment.provider}', which has "
                f"no {infer.endpoint.value} endpoint.",
                param="model",
                code="unsupported_endpoint",
            )
        call = adapter.build_request(infer.endpoint, infer.body, deployment)
        secret = self._secret(deployment)
        auth = adapter.auth_header(secret) if secret is not None else None
        async with (
            spans.upstream_call(infer, deployment, outcome),
            self.upstream.open(deployment, call, auth, secret) as response,
        ):
            outcome.upstream_latency_ms = (time.monotonic() - started) * 1000
            if response.status >= 400:
                raise adapter.parse_error(response.status, response.headers, await response.read())
            if call.stream:
                await self._relay_stream(
                    adapter, response, deployment, infer, replier, outcome, started
                )
            else:
                parsed = adapter.parse_response(infer.endpoint, await response.read(), deployment)
                outcome.usage = parsed.usage
                outcome.upstream_model = parsed.upstream_model or deployment.model
                outcome.ttft_ms = (time.monotonic() - started) * 1000
                await replier.chunk(parsed.body)
        await replier.final(
            FinalReply(
                usage=outcome.usage,
                deployment=deployment.name,
                provider=deployment.provider,
                upstream_model=outcome.upstream_model,
                upstream_latency_ms=outcome.upstream_latency_ms,
            )
        )

    async def _relay_stream(
        self,
        adapter: Adapter[Any],
        response: UpstreamResponse,
        deployment: Deployment,
        infer: InferRequest,
        replier: Replier,
        outcome: Outcome,
        started: float,
    ) -> None:
        decoder = SseDecoder()
        state = adapter.new_stream_state()
        async for data in response.chunks():
            for event in decoder.feed(data):
                for chunk in adapter.parse_stream_event(event, state):
                    if chunk.usage is not None:
                        outcome.usage = chunk.usage
                    outcome.output_chars += chunk.output_chars
                    if chunk.usage_only and not infer.include_usage:
                        continue
                    if outcome.ttft_ms is None:
                        outcome.ttft_ms = (time.monotonic() - started) * 1000
                    await replier.chunk(chunk.data)
        if not adapter.stream_complete(state):
            raise UpstreamUnavailable(
                f"Deployment '{deployment.name}' ended its stream before finishing the answer."
            )

    def _secret(self, deployment: Deployment) -> str | None:
        if deployment.api_key is None:
            return None
        try:
            return self.secrets.resolve(deployment.api_key)
        except SecretNotFound as exc:
            raise UpstreamAuthFailed(
                f"The credential of deployment '{deployment.name}' is not available: {exc}."
            ) from exc
