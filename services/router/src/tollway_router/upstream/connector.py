"""The router's pool of upstream HTTP connections.

aiohttp (the locked 3.14) reuses the connection released longest ago first, so under a steady rate
every pooled connection is used every few seconds and none is ever idle for the keep-alive
timeout: the pool keeps whatever a burst opened for as long as traffic lasts (a 3-second burst
left 133 upstream connections open under 50 requests a second). This connector reuses the
most recently released connection first: the ones a steady rate needs stay warm, and the rest
sit until aiohttp's own keep-alive cleanup closes them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
from aiohttp.client_proto import ResponseHandler

if TYPE_CHECKING:
    from aiohttp.client_reqrep import ConnectionKey

# An upstream connection unused this long is closed (aiohttp checks once per this period, so
# it closes between one and two periods after its last use).
KEEPALIVE_TIMEOUT_S = 60.0
_DNS_CACHE_S = 300


class NewestFirstConnector(aiohttp.TCPConnector):
    """A TCPConnector that hands out its most recently released connection first."""

    def _release(
        self, key: ConnectionKey, protocol: ResponseHandler, *, should_close: bool = False
    ) -> None:
        super()._release(key, protocol, should_close=should_close)
        # aiohttp appends the released connection and takes from the left: move it there.
        pooled = self._conns.get(key)
        if pooled and pooled[-1][0] is protocol:
            pooled.rotate(1)


def upstream_connector(
    max_connections: int, keepalive_timeout_s: float = KEEPALIVE_TIMEOUT_S
) -> aiohttp.TCPConnector:
    return NewestFirstConnector(
        limit=max_connections, keepalive_timeout=keepalive_timeout_s, ttl_dns_cache=_DNS_CACHE_S
    )
