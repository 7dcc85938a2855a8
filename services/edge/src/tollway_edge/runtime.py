"""What a running edge process holds: its connections, reply mux and control-plane view."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from nats.aio.client import Client
from nats.js import JetStreamContext

from tollway_common.batch_store import BatchStore
from tollway_common.file_store import FileStore
from tollway_edge.auth import TokenAuth
from tollway_edge.catalog import Catalog
from tollway_edge.dispatch import ReplyMux
from tollway_edge.fallback_usage import Estimates
from tollway_edge.limits.gate import LimitGate
from tollway_edge.redis_client import RedisClient
from tollway_edge.settings import EdgeSettings


@dataclass(frozen=True)
class Runtime:
    settings: EdgeSettings
    edge_id: str
    nc: Client
    js: JetStreamContext
    redis: RedisClient
    mux: ReplyMux
    catalog: Catalog
    gate: LimitGate
    # The edge's usage events for requests whose router it lost (fallback_usage.py).
    estimates: Estimates
    oidc: TokenAuth | None = None
    # The configured salt, read once (lifespan), else random for this process.
    client_ip_salt: bytes = field(default_factory=lambda: secrets.token_bytes(16))
    # Files and batch records (`/v1/files`, `/v1/batches`); None where a test runs without.
    files: FileStore | None = None
    batches: BatchStore | None = None
