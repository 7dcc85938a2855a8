"""When the edge loses the router of a request (the router died, NATS went away), the client
gets an error the router may never learn of: the edge publishes what the client got, with an
estimate of the usage. Metering merges it with the router's event when that arrives too (the
router's tokens and cost, this event's status), and keeps it alone, priced at 0, when none
does (docs/adr/0020-what-a-usage-row-says.md)."""

from __future__ import annotations

import logging
import time

from nats.js import JetStreamContext

from tollway_common import contract
from tollway_common.contract import InferRequest, UsageEvent, UsageSource
from tollway_common.errors import TollwayError
from tollway_common.ids import usage_msg_id
from tollway_edge.dispatch import Unanswered

log = logging.getLogger(__name__)


async def publish_estimate(
    js: JetStreamContext, infer: InferRequest, error: TollwayError, chunks_relayed: int
) -> None:
    # A request no router ever answered (not even a heartbeat) reached no upstream as far as
    # this edge knows: nothing to estimate. Otherwise one streamed chunk is about one token.
    prompt = 0 if isinstance(error, Unanswered) else infer.facts.prompt_tokens
    event = UsageEvent(
        request_id=infer.request_id,
        received_at_ms=infer.received_at_ms,
        endpoint=infer.endpoint,
        principal=infer.principal,
        model_alias=infer.route.alias,
        status_code=error.status,
        error_type=error.type,
        error_code=error.code_override or error.code,
        prompt_tokens=prompt,
        completion_tokens=chunks_relayed,
        total_tokens=prompt + chunks_relayed,
        usage_estimated=bool(prompt or chunks_relayed),
        latency_ms=round(time.time() * 1000 - infer.received_at_ms, 3),
        stream=infer.stream,
        source=UsageSource.EDGE,
        client=infer.client,
    )
    headers = {contract.HEADER_MSG_ID: usage_msg_id(infer.request_id, UsageSource.EDGE.value)}
    try:
        await js.publish(contract.USAGE_SUBJECT, contract.encode(event), headers=headers, timeout=5)
    except Exception:
        log.exception("estimated usage event not published")
