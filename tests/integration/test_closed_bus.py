"""The bus is closed: nats-server refuses anonymous clients and holds each service to the
permissions of `tollway_common.bus_permissions` (docs/security-nats.md)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace

import nats
import pytest
from nats.aio.client import Client
from nats.js.api import RetentionPolicy
from tests.support.polling import eventually

from tollway_cli.servers import NatsServer
from tollway_common import contract, nats_client
from tollway_common.bus_permissions import (
    CONTROL_PLANE_BUCKETS,
    EDGE_REPLIES,
    Service,
    inbox_prefix,
)
from tollway_common.contract import Endpoint, InferRequest, Principal, ResolvedRoute
from tollway_common.nats_client import credentials


@dataclass
class Connection:
    nc: Client
    errors: list[str] = field(default_factory=list)

    async def refused(self, action: str, subject: str) -> None:
        """Wait until nats-server reports a permissions violation for `action` on `subject`."""
        await self.nc.flush()
        what = f'permissions violation for {action} to "{subject}"'

        async def check() -> None:
            assert any(what.lower() in error.lower() for error in self.errors), self.errors

        await eventually(check, f"a permissions violation for {what}")


@asynccontextmanager
async def connected(nats_server: NatsServer, service: Service) -> AsyncIterator[Connection]:
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    settings = nats_server.settings(service)
    nc = await nats.connect(
        settings.url,
        error_cb=on_error,
        inbox_prefix=inbox_prefix(service),
        **credentials(settings),
    )
    try:
        yield Connection(nc, errors)
    finally:
        await nc.close()


def _forged_request() -> bytes:
    return contract.encode(
        InferRequest(
            request_id="forged",
            endpoint=Endpoint.CHAT_COMPLETIONS,
            principal=Principal(key_id="someone-else"),
            route=ResolvedRoute(alias="denied-model"),
            received_at_ms=0,
            deadline_ms=1,
            body={"model": "denied-model", "messages": []},
        )
    )


async def _server_answer(nats_server: NatsServer, connect: dict[str, object]) -> bytes:
    """What nats-server answers a client that sends CONNECT with these options and a PING
    (spoken by hand: nats-py leaves a socket open when a connect is refused)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", nats_server.port)
    try:
        await reader.readline()  # INFO
        writer.write(b"CONNECT " + json.dumps(connect).encode() + b"\r\nPING\r\n")
        await writer.drain()
        return await asyncio.wait_for(reader.readline(), timeout=10)
    finally:
        writer.close()
        await writer.wait_closed()


async def test_an_anonymous_client_is_refused(nats_server: NatsServer) -> None:
    answer = await _server_answer(nats_server, {"verbose": False})
    assert answer.startswith(b"-ERR 'Authorization Violation'")


async def test_a_wrong_password_is_refused(nats_server: NatsServer) -> None:
    answer = await _server_answer(
        nats_server, {"verbose": False, "user": Service.ADMIN.value, "pass": "guessed"}
    )
    assert answer.startswith(b"-ERR 'Authorization Violation'")


async def test_a_service_password_is_accepted(nats_server: NatsServer) -> None:
    settings = nats_server.settings(Service.EDGE)
    connect = {
        "verbose": False,
        "user": settings.user,
        "pass": settings.password.get_secret_value(),
    }
    assert await _server_answer(nats_server, connect) == b"PONG\r\n"


async def test_the_edge_cannot_write_keys(nats_server: NatsServer) -> None:
    async with connected(nats_server, Service.EDGE) as edge:
        subject = f"$KV.{contract.KV_KEYS}.forged"
        await edge.nc.publish(subject, b"{}")
        await edge.refused("publish", subject)


@pytest.mark.parametrize("service", [Service.EDGE, Service.ADMIN, Service.METERING])
async def test_only_routers_read_or_write_stored_responses(
    nats_server: NatsServer, service: Service
) -> None:
    async with connected(nats_server, service) as other:
        read = f"$JS.API.DIRECT.GET.KV_{contract.KV_RESPONSES}.$KV.{contract.KV_RESPONSES}.resp_1"
        await other.nc.publish(read, b"")
        await other.refused("publish", read)
        write = f"$KV.{contract.KV_RESPONSES}.resp_1"
        await other.nc.publish(write, b"{}")
        await other.refused("publish", write)


@pytest.mark.parametrize("service", [Service.EDGE, Service.ADMIN, Service.METERING])
async def test_only_routers_read_or_write_oauth_tokens_and_their_health(
    nats_server: NatsServer, service: Service
) -> None:
    bucket = contract.KV_OAUTH_TOKENS
    async with connected(nats_server, service) as other:
        read = f"$JS.API.DIRECT.GET.KV_{bucket}.$KV.{bucket}.account"
        await other.nc.publish(read, b"")
        await other.refused("publish", read)
        for written in (bucket, contract.KV_OAUTH_HEALTH):
            write = f"$KV.{written}.account"
            await other.nc.publish(write, b"{}")
            await other.refused("publish", write)


async def test_the_edge_cannot_read_other_clients_prompts(nats_server: NatsServer) -> None:
    async with connected(nats_server, Service.EDGE) as edge:
        await edge.nc.subscribe(contract.INFER_WILDCARD)
        await edge.refused("subscription", contract.INFER_WILDCARD)


@pytest.mark.parametrize("bucket", CONTROL_PLANE_BUCKETS)
async def test_the_router_cannot_write_the_control_plane(
    nats_server: NatsServer, bucket: str
) -> None:
    async with connected(nats_server, Service.ROUTER) as router:
        subject = f"$KV.{bucket}.forged"
        await router.nc.publish(subject, b"{}")
        await router.refused("publish", subject)


async def test_the_router_cannot_forge_audit_events(nats_server: NatsServer) -> None:
    async with connected(nats_server, Service.ROUTER) as router:
        await router.nc.publish(contract.AUDIT_SUBJECT, b"{}")
        await router.refused("publish", contract.AUDIT_SUBJECT)


async def test_the_router_cannot_read_replies(nats_server: NatsServer) -> None:
    async with connected(nats_server, Service.ROUTER) as router:
        await router.nc.subscribe(EDGE_REPLIES)
        await router.refused("subscription", EDGE_REPLIES)


async def test_metering_cannot_publish_infer_requests(nats_server: NatsServer) -> None:
    subject = contract.infer_subject(Endpoint.CHAT_COMPLETIONS)
    async with connected(nats_server, Service.METERING) as metering:
        await metering.nc.publish(subject, _forged_request())
        await metering.refused("publish", subject)


@pytest.mark.parametrize("forger", [Service.ROUTER, Service.METERING, Service.ADMIN])
async def test_a_forged_infer_request_never_reaches_a_router(
    nats_server: NatsServer, forger: Service
) -> None:
    subject = contract.infer_subject(Endpoint.CHAT_COMPLETIONS)
    async with (
        connected(nats_server, Service.ROUTER) as router,
        connected(nats_server, Service.EDGE) as edge,
        connected(nats_server, forger) as other,
    ):
        requests = await router.nc.subscribe(
            contract.INFER_WILDCARD, queue=contract.ROUTER_QUEUE_GROUP
        )
        await router.nc.flush()
        await other.nc.publish(subject, _forged_request())
        await other.refused("publish", subject)
        await edge.nc.publish(subject, b"from the edge")
        await edge.nc.flush()
        first = await requests.next_msg(timeout=10)
        assert first.data == b"from the edge"


async def test_only_the_edge_reads_its_replies(nats_server: NatsServer) -> None:
    reply = f"{contract.reply_inbox_prefix('edge-1')}.req-1"
    async with (
        connected(nats_server, Service.EDGE) as edge,
        connected(nats_server, Service.METERING) as metering,
    ):
        await metering.nc.subscribe(reply)
        await metering.refused("subscription", reply)
        await edge.nc.subscribe(reply)
        await edge.nc.flush()
        assert edge.errors == []


async def test_a_service_that_may_only_create_a_stream_starts_on_an_older_one(
    nats_server: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    """An upgrade that changes a stream's settings: the router (create only) keeps the stream
    as it is and starts; metering (its owner) then updates it, bounding an older release's
    unbounded usage stream too. Its retention (limits then, a work queue now) nats-server
    cannot change in place: metering keeps it, applies the rest, and says so."""
    async with connected(nats_server, Service.METERING) as metering:
        js = metering.nc.jetstream()
        await nats_client.ensure_usage_stream(js, replicas=1)
        current = (await js.stream_info(contract.USAGE_STREAM)).config
        assert current.retention == RetentionPolicy.WORK_QUEUE
        older = replace(
            current, retention=RetentionPolicy.LIMITS, duplicate_window=60.0, max_bytes=-1
        )
        operator = await nats.connect(nats_server.url_as("test"))
        try:
            await operator.jetstream().delete_stream(contract.USAGE_STREAM)
            await operator.jetstream().add_stream(older)
        finally:
            await operator.close()
        async with connected(nats_server, Service.ROUTER) as router:
            await nats_client.ensure_usage_stream(router.nc.jetstream(), replicas=1)
            kept = (await js.stream_info(contract.USAGE_STREAM)).config
            assert kept.duplicate_window == 60.0
        await nats_client.ensure_usage_stream(js, replicas=1)
        updated = (await js.stream_info(contract.USAGE_STREAM)).config
        assert updated.duplicate_window == nats_client.USAGE_DEDUP_WINDOW_S
        assert updated.max_bytes == nats_client.USAGE_MAX_BYTES
        assert updated.retention == RetentionPolicy.LIMITS
        assert "recreate it once drained" in caplog.text
