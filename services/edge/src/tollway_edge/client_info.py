"""Who a client is, as far as metering and per-client limits need: its IP only as a keyed
hash, and its user agent."""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import Request

from tollway_common.contract import ClientInfo

_MAX_USER_AGENT = 256


def client_info(request: Request, salt: bytes) -> ClientInfo:
    ip = request.client.host if request.client else ""
    ip_hash = hmac.new(salt, ip.encode(), hashlib.sha256).hexdigest()[:32] if ip else ""
    return ClientInfo(
        ip_hash=ip_hash, user_agent=request.headers.get("user-agent", "")[:_MAX_USER_AGENT]
    )


def client_key(client: ClientInfo) -> str:
    """One client for per-client concurrency limits: IP and user agent together."""
    return hashlib.sha256(f"{client.ip_hash}|{client.user_agent}".encode()).hexdigest()[:16]
