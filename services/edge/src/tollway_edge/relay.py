"""Relay an answer that is not OpenAI JSON (speech audio, a transcript as text, srt or vtt)
as the bytes the upstream sent, with its content type, chunk by chunk as they arrive.

The router opens such an answer with a `head` reply naming the content type; the chunks
after it are raw bytes. A failure after the first byte cannot be written into audio: the
response is broken off, so the client sees an incomplete body, not a short file that looks
whole.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable

from tollway_common import contract
from tollway_common.contract import InferRequest, ReplyKind, Usage
from tollway_common.errors import RouterLost
from tollway_edge import sse
from tollway_edge.dispatch import ClientGone, Reply
from tollway_edge.limits.gate import Ticket
from tollway_edge.runtime import Runtime

log = logging.getLogger(__name__)


class RelayBroken(Exception):
    """The answer failed after its first bytes went out; the response is broken off."""


class BytesResponse(sse.SseResponse):
    """The upstream's bytes under its `content_type`, written as they arrive."""

    def __init__(
        self,
        content_type: str,
        chunks: AsyncIterator[bytes],
        on_close: Callable[[], object],
        headers: dict[str, str] | None = None,
    ) -> None:
        self.media_type = content_type or "application/octet-stream"
        super().__init__(chunks, on_close, headers)


async def relay_bytes(
    replies: AsyncGenerator[Reply, None], runtime: Runtime, infer: InferRequest, ticket: Ticket
) -> AsyncIterator[bytes]:
    relayed = 0
    usage: Usage | None = None
    served_model = ""
    try:
        async for reply in replies:
            if reply.kind is ReplyKind.CHUNK:
                relayed += 1
                yield reply.data
            elif reply.kind is ReplyKind.FINAL and ticket.active:
                final = contract.decode_final_reply(reply.data)
                usage, served_model = final.usage, final.served_model
            elif reply.kind is ReplyKind.ERROR:
                error = contract.decode_error_reply(reply.data)
                raise RelayBroken(error.error.message)
    except ClientGone:
        return
    except RelayBroken as exc:
        log.warning("relayed answer failed after %d chunks: %s", relayed, exc)
        raise
    except Exception as exc:
        if isinstance(exc, RouterLost):
            runtime.estimates.submit(infer, exc, chunks_relayed=0)
        log.warning("relayed answer failed after %d chunks: %s", relayed, exc)
        raise RelayBroken(str(exc)) from exc
    finally:
        # A chunk of audio is no token: without reported usage only the prompt is charged.
        runtime.gate.settle_later(ticket, usage, 0, served_model)
        with contextlib.suppress(Exception):
            await replies.aclose()
