"""Anthropic's server-sent event framing: every event names its type on an `event:` line.

The anthropic SDKs dispatch on that line, so a Messages stream (what the router relays for
`Endpoint.MESSAGES`, and the edge's own error event) is framed here, never as bare `data:`.
"""

from __future__ import annotations


def frame(event: str, data: bytes) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"
