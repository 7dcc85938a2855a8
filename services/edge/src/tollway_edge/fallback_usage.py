"""When a router dies mid-request it never publishes the usage event; the edge writes an
estimated one so the request is still metered. Metering prefers the router's event if both
arrive (a router that was only cut off from this edge)."""

from __future__ import annotations

import logging
import time

from nats.js import JetStreamContext

from tollway_common import contract
from tollway_common.contract import InferRequest, UsageEvent, UsageSource
from tollway_common.errors import TollwayError
from tollway_common.ids import usage_msg_id

log = logging.getLogger(__name__)


async def publish_estimate(
    js: JetStreamContext, infer: InferRequest, error: TollwayError, chunks_relayed: int
) -> None:
    prompt = infer.facts.prompt_tokens
    # One streamed chunk carries about one token.
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
        usage_estimated=True,
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
