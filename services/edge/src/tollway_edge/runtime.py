"""What a running edge process holds: its connections, reply mux and control-plane view."""

from __future__ import annotations

from dataclasses import dataclass

from nats.aio.client import Client
from nats.js import JetStreamContext
from redis.asyncio import Redis

from tollway_edge.auth import TokenAuth
from tollway_edge.catalog import Catalog
from tollway_edge.dispatch import ReplyMux
from tollway_edge.limits.gate import LimitGate
from tollway_edge.settings import EdgeSettings


@dataclass(frozen=True)
class Runtime:
    settings: EdgeSettings
    edge_id: str
    nc: Client
    js: JetStreamContext
    redis: Redis
    mux: ReplyMux
    catalog: Catalog
    gate: LimitGate
    oidc: TokenAuth | None = None

    @property
    def client_ip_salt(self) -> bytes:
        return self.settings.client_ip_salt.get_secret_value().encode()
