"""Build each request's UsageEvent and publish it to JetStream, deduplicated by request id."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from nats.js import JetStreamContext

from tollway_common import contract, tracing
from tollway_common.contract import InferRequest, Usage, UsageEvent
from tollway_common.control import Deployment
from tollway_common.ids import usage_msg_id
from tollway_common.usage_estimate import estimate_completion_tokens

log = logging.getLogger(__name__)

# After a NATS node is lost, the usage stream answers nothing until JetStream has elected a
# new leader for it: we measured up to about 4 s of "no response from stream" with three
# nodes under load (tests/integration/test_nats_cluster.py), which five quick attempts did not
# outlast. Retrying for two minutes rides out an election and a short outage; the message id
# makes every repeat harmless.
PUBLISH_WINDOW_S = 120.0
_BACKOFF_FIRST_S = 0.2
_BACKOFF_MAX_S = 2.0
# Of a long run of failed attempts, the first and every tenth are logged.
_LOG_EVERY = 10
# A client that left: the upstream call was cancelled, possibly after the provider began to
# charge for it, so its usage is estimated rather than taken as nothing.
CLIENT_CLOSED_REQUEST = 499


@dataclass
class Outcome:
    """What happened to one request, filled in as it runs."""

    status_code: int = 200
    error_type: str = ""
    error_code: str = ""
    deployment: str = ""
    provider: str = ""
    upstream_model: str = ""
    usage: Usage | None = None
    output_chars: int = 0
    ttft_ms: float | None = None
    upstream_latency_ms: float | None = None
    served_model: str = ""
    credential: str = ""
    fallbacks: int = 0
    # One entry per upstream call, "deployment[/credential]:ok" or ":<error code>".
    attempts: list[str] = field(default_factory=list)

    def begin_attempt(self, alias: str, deployment: Deployment, credential: str) -> None:
        """Forget what an earlier, failed attempt left (nothing of it reached the client)."""
        self.served_model = alias
        self.deployment = deployment.name
        self.provider = deployment.provider
        self.upstream_model = deployment.model
        self.credential = credential
        self.usage = None
        self.output_chars = 0
        self.ttft_ms = None
        self.upstream_latency_ms = None


# The usage of a request the provider did not charge for.
NOTHING_CHARGED = Usage()


def settle_usage(outcome: Outcome, prompt: int) -> Usage:
    """The reported usage; nothing for a call that failed before producing anything (providers
    do not charge failed calls, and a request that reached no upstream cost nothing); else an
    estimate from the edge's `prompt` estimate and the output, flagged (metering never prices
    it as real)."""
    if outcome.usage is not None:
        return outcome.usage
    failed = outcome.status_code >= 400 and outcome.status_code != CLIENT_CLOSED_REQUEST
    if failed and outcome.output_chars == 0:
        return NOTHING_CHARGED
    completion = estimate_completion_tokens(outcome.output_chars)
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        estimated=True,
    )


def build_event(
    infer: InferRequest, outcome: Outcome, latency_ms: float, router_id: str
) -> UsageEvent:
    usage = settle_usage(outcome, infer.facts.prompt_tokens)
    return UsageEvent(
        request_id=infer.request_id,
        received_at_ms=infer.received_at_ms,
        endpoint=infer.endpoint,
        principal=infer.principal,
        model_alias=infer.route.alias,
        deployment=outcome.deployment,
        provider=outcome.provider,
        upstream_model=outcome.upstream_model,
        status_code=outcome.status_code,
        error_type=outcome.error_type,
        error_code=outcome.error_code,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
        usage_estimated=usage.estimated,
        latency_ms=round(latency_ms, 3),
        ttft_ms=None if outcome.ttft_ms is None else round(outcome.ttft_ms, 3),
        stream=infer.stream,
        router_id=router_id,
        cached_read_tokens=usage.cached_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        images=usage.images,
        audio_seconds=usage.audio_seconds,
        characters=usage.characters,
        upstream_latency_ms=(
            None if outcome.upstream_latency_ms is None else round(outcome.upstream_latency_ms, 3)
        ),
        client=infer.client,
        retries=max(0, len(outcome.attempts) - 1),
        fallbacks=outcome.fallbacks,
        served_model="" if outcome.served_model == infer.route.alias else outcome.served_model,
        credential=outcome.credential,
        attempts=outcome.attempts,
        trace_id=tracing.current_trace_id(),
        batch_id=infer.batch_id,
    )


def retry_pause_s(attempt: int) -> float:
    """The pause after failed attempt number `attempt` (from 1): doubling, capped."""
    return float(min(_BACKOFF_FIRST_S * 2 ** min(attempt - 1, 8), _BACKOFF_MAX_S))


async def publish_usage(
    js: JetStreamContext, event: UsageEvent, window_s: float = PUBLISH_WINDOW_S
) -> None:
    """Publish until JetStream acknowledges or `window_s` has passed; the message id makes a
    retried publish harmless."""
    payload = contract.encode(event)
    # A corrected event (`client_cut`) must not be taken for a repeat of the first one.
    source = event.source.value + ("-cut" if event.client_cut else "")
    headers = {contract.HEADER_MSG_ID: usage_msg_id(event.request_id, source)}
    deadline = time.monotonic() + window_s
    attempt = 0
    while True:
        try:
            await js.publish(contract.USAGE_SUBJECT, payload, headers=headers, timeout=5)
            return
        except Exception as exc:
            attempt += 1
            if attempt % _LOG_EVERY == 1:
                log.warning(
                    "usage publish failed (attempt %d): %s",
                    attempt,
                    exc,
                    extra={"request_id": event.request_id},
                )
            pause = retry_pause_s(attempt)
            if time.monotonic() + pause > deadline:
                break
            await asyncio.sleep(pause)
    log.error(
        "usage event not stored after %d attempts",
        attempt,
        extra={"request_id": event.request_id},
    )
