"""In-process stand-ins for the edge's own parts, so its request flow runs in one test process:
a catalog that never changes, a reply mux that records what would be published and answers
from a script, alert and limiter stand-ins for what a test does not look at. Redis and NATS
themselves are never faked: a test that needs them starts the real servers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, TypeVar

import orjson
from nats.aio.client import Client
from redis.asyncio import Redis
from starlette.requests import Request

from tollway_common import contract
from tollway_common.contract import InferRequest, ReplyKind
from tollway_common.control import (
    Budget,
    KeyRecord,
    ModelAlias,
    OrgRecord,
    Price,
    TeamRecord,
    kv_key_for_alias,
)
from tollway_common.kv_mirror import KvMirror
from tollway_edge.catalog import Catalog
from tollway_edge.dispatch import Reply, ReplyMux
from tollway_edge.fallback_usage import Estimates
from tollway_edge.limits.alerts import AlertPublisher
from tollway_edge.limits.gate import LimitGate
from tollway_edge.limits.plan import Check
from tollway_edge.runtime import Runtime
from tollway_edge.settings import EdgeSettings

T = TypeVar("T")


class FixedMirror(KvMirror[T]):
    """A mirror of a bucket that holds `items` and never changes (no NATS watch)."""

    def __init__(self, items: Mapping[str, T]) -> None:
        self._fixed: Mapping[str, T] = MappingProxyType(dict(items))

    @property
    def items(self) -> Mapping[str, T]:
        return self._fixed

    @property
    def revision(self) -> int:
        return 1


def catalog(
    models: Sequence[ModelAlias] = (),
    keys: Sequence[KeyRecord] = (),
    budgets: Sequence[Budget] = (),
    prices: Sequence[Price] = (),
    teams: Sequence[TeamRecord] = (),
    orgs: Sequence[OrgRecord] = (),
) -> Catalog:
    return Catalog(
        models=FixedMirror({kv_key_for_alias(m.name): m for m in models}),
        keys=FixedMirror({k.key_hash: k for k in keys}),
        teams=FixedMirror({t.team_id: t for t in teams}),
        orgs=FixedMirror({o.org_id: o for o in orgs}),
        budgets=FixedMirror({b.budget_id: b for b in budgets}),
        prices=FixedMirror({kv_key_for_alias(p.model): p for p in prices}),
    )


class RecordingAlerts(AlertPublisher):
    """Alerts kept in a list instead of published to JetStream."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def budget_soft(self, check: Check, budget: Budget, total_micro: int) -> None:
        self.sent.append(("budget_soft", budget.budget_id))

    async def budget_exceeded(self, check: Check, budget: Budget) -> None:
        self.sent.append(("budget_exceeded", budget.budget_id))

    async def unpriced_model(self, alias: str) -> None:
        self.sent.append(("unpriced_model", alias))


class ScriptedMux(ReplyMux):
    """Records each InferRequest it is given and answers it with `script`: (kind, payload)
    pairs, as routers would send them, in order."""

    def __init__(self, script: Sequence[tuple[ReplyKind, bytes]] = ()) -> None:
        super().__init__("test-edge", idle_timeout_s=5)
        self.script = list(script)
        self.sent: list[tuple[str, InferRequest]] = []

    def check_size(self, payload_size: int) -> None:
        return None

    async def replies(
        self, subject: str, payload: bytes, request_id: str, deadline: float, token: str
    ) -> AsyncGenerator[Reply, None]:
        self.sent.append((subject, contract.decode_infer_request(payload)))
        for kind, data in self.script:
            yield Reply(kind, data)

    @property
    def infer(self) -> InferRequest:
        (only,) = self.sent
        return only[1]


def runtime(
    catalog: Catalog,
    mux: ReplyMux | None = None,
    gate: LimitGate | None = None,
    redis: Redis | None = None,
    **settings: Any,
) -> Runtime:
    """An edge runtime around `catalog`. Its NATS client is never connected and its Redis
    client only connects when a limit applies: pass a real server's client then."""
    edge_settings = EdgeSettings(**settings)
    nc = Client()
    redis = redis if redis is not None else Redis(unix_socket_path="/nonexistent/redis.sock")
    return Runtime(
        settings=edge_settings,
        edge_id="test-edge",
        nc=nc,
        js=nc.jetstream(),
        redis=redis,
        mux=mux if mux is not None else ScriptedMux(),
        catalog=catalog,
        gate=gate
        if gate is not None
        else LimitGate(catalog, redis, RecordingAlerts(), edge_settings.limits),
        estimates=Estimates(nc.jetstream()),
    )


def post(path: str, body: Any, key: str | None = None) -> Request:
    """A POST of `body` (JSON, or raw bytes) as it reaches the edge's handler; after the body
    the client stays connected."""
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    headers = [(b"content-type", b"application/json")]
    if key is not None:
        headers.append((b"authorization", f"Bearer {key}".encode()))
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": headers,
        "query_string": b"",
        "client": ("127.0.0.1", 50000),
        "state": {},
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}
        await asyncio.Event().wait()  # connected until the test ends
        return {"type": "http.disconnect"}

    return Request(scope, receive)
