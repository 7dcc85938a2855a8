"""Usage events reach the warehouse exactly once, through the real service and chDB: JetStream
dedup, redelivery, metering killed between insert and ack, NATS restarted under load. Batching,
backlogs, failed inserts and replicas sharing the durable are in test_metering_consumer.py."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import nats.errors
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from tests.support.chdb import query_folder
from tests.support.nats import start_test_nats

from tollway_cli.processes import ManagedProcess, spawn_module
from tollway_cli.servers import NatsServer
from tollway_common import contract, nats_client
from tollway_common.bus_permissions import Service
from tollway_common.contract import (
    AnalyticsQuery,
    Endpoint,
    Principal,
    UsageEvent,
    UsageRow,
    UsageSource,
)
from tollway_common.ids import new_request_id, usage_msg_id

pytestmark = pytest.mark.integration

_FAULT_EXIT_CODE = 17
_WAIT_S = 60.0
_POLL_S = 0.2
_NOW_MS = int(time.time() * 1000)


@pytest.fixture
def nats_srv(tmp_path: Path) -> Iterator[NatsServer]:
    server = start_test_nats(tmp_path / "nats")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def js_client(nats_srv: NatsServer) -> AsyncIterator[tuple[Client, JetStreamContext]]:
    nc = await nats.connect(nats_srv.url_as("test"))
    try:
        js = nc.jetstream()
        await nats_client.ensure_usage_stream(js, replicas=1)
        yield nc, js
    finally:
        await nc.close()


@pytest.fixture
def metering(tmp_path: Path, nats_srv: NatsServer) -> Iterator[_Metering]:
    runner = _Metering(tmp_path, nats_srv)
    try:
        yield runner
    finally:
        runner.stop_all()


class _Metering:
    """Starts `python -m tollway_metering` processes sharing one chDB folder, one at a time."""

    def __init__(self, tmp_path: Path, nats_srv: NatsServer) -> None:
        self._tmp = tmp_path
        self._logs = tmp_path / "logs"
        self._env = {
            **nats_srv.env(Service.METERING),
            "TOLLWAY_METERING_FETCH_TIMEOUT_S": "0.2",
        }
        self.processes: list[ManagedProcess] = []

    def folder(self, name: str = "ch") -> Path:
        return self._tmp / name

    async def start(self, folder: str = "ch", **env: str) -> ManagedProcess:
        name = f"metering-{len(self.processes)}"
        dsn = {"TOLLWAY_METERING_CLICKHOUSE_DSN": f"chdb://{self.folder(folder)}"}
        process = await asyncio.to_thread(
            spawn_module, name, "tollway_metering", {**self._env, **dsn, **env}, self._logs
        )
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            process.stop(timeout=20)


def _event(index: int) -> UsageEvent:
    return UsageEvent(
        request_id=new_request_id(),
        # Recent: rows older than the table's TTL are dropped as they are inserted.
        received_at_ms=_NOW_MS + index,
        endpoint=Endpoint.CHAT_COMPLETIONS,
        principal=Principal(key_id=f"key-{index % 3}", team_id="team-a", org_id="org-a"),
        model_alias="fake-chat",
        deployment="fake-1",
        provider="fake",
        status_code=200,
        prompt_tokens=10 + index,
        completion_tokens=5,
        total_tokens=15 + index,
        latency_ms=12.5,
        ttft_ms=3.0 if index % 2 else None,
        stream=bool(index % 2),
    )


async def _publish(js: JetStreamContext, events: list[UsageEvent]) -> None:
    for event in events:
        await js.publish(
            contract.USAGE_SUBJECT,
            contract.encode(event),
            headers={contract.HEADER_MSG_ID: usage_msg_id(event.request_id, event.source.value)},
        )


async def _stored_rows(nc: Client, process: ManagedProcess, expected: set[str]) -> list[UsageRow]:
    """Ask metering over NATS until every expected request id is stored (bounded)."""
    query = contract.encode(AnalyticsQuery(limit=10 * len(expected)))
    rows: list[UsageRow] = []
    deadline = asyncio.get_running_loop().time() + _WAIT_S
    while asyncio.get_running_loop().time() < deadline:
        assert process.popen.poll() is None, f"metering exited:\n{process.log()[-4000:]}"
        try:
            msg = await nc.request(contract.analytics_subject("usage"), query, timeout=5)
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
            await asyncio.sleep(_POLL_S)
            continue
        reply = contract.decode_analytics_reply(msg.data)
        assert reply.error == "", reply.error
        rows = reply.rows
        if expected <= {row.request_id for row in rows}:
            return rows
        await asyncio.sleep(_POLL_S)
    pytest.fail(f"only {len(rows)} of {len(expected)} events stored:\n{process.log()[-4000:]}")


async def _stored_once(
    nc: Client, process: ManagedProcess, events: list[UsageEvent]
) -> list[UsageRow]:
    """Wait until every event is stored, assert each is stored exactly once, return the rows."""
    rows = await _stored_rows(nc, process, {event.request_id for event in events})
    counts = collections.Counter(row.request_id for row in rows)
    assert counts == {event.request_id: 1 for event in events}
    return rows


async def _wait_all_acked(js: JetStreamContext, process: ManagedProcess) -> None:
    """Wait (bounded) until the durable has nothing pending or unacked, redeliveries included."""
    deadline = asyncio.get_running_loop().time() + _WAIT_S
    while asyncio.get_running_loop().time() < deadline:
        info = await js.consumer_info(contract.USAGE_STREAM, contract.USAGE_DURABLE)
        if info.num_pending == 0 and info.num_ack_pending == 0:
            return
        await asyncio.sleep(_POLL_S)
    pytest.fail(f"events still unacked:\n{process.log()[-4000:]}")


async def _wait_exit(process: ManagedProcess) -> int:
    return await asyncio.to_thread(process.popen.wait, _WAIT_S)


async def test_metering_stores_each_usage_event_exactly_once(
    js_client: tuple[Client, JetStreamContext], metering: _Metering
) -> None:
    nc, js = js_client
    events = [_event(index) for index in range(40)]
    process = await metering.start()

    await _publish(js, events[:30])
    await _publish(js, events[:10])  # the router retrying a publish: JetStream drops these
    await _publish(js, events[30:])
    rows = await _stored_once(nc, process, events)
    by_id = {row.request_id: row for row in rows}
    assert by_id[events[7].request_id] == UsageRow(
        request_id=events[7].request_id,
        received_at_ms=events[7].received_at_ms,
        key_id="key-1",
        model_alias="fake-chat",
        deployment="fake-1",
        provider="fake",
        endpoint="chat_completions",
        status_code=200,
        error_type="",
        prompt_tokens=17,
        completion_tokens=5,
        total_tokens=22,
        latency_ms=12.5,
        ttft_ms=3.0,
        stream=True,
        team_id="team-a",
        org_id="org-a",
        unpriced=True,
    )
    assert process.stop(timeout=20) == 0, process.log()[-4000:]


async def test_metering_killed_between_insert_and_ack_loses_and_doubles_nothing(
    js_client: tuple[Client, JetStreamContext], metering: _Metering
) -> None:
    nc, js = js_client
    events = [_event(index) for index in range(25)]
    await _publish(js, events)

    crashing = await metering.start(
        TOLLWAY_METERING_FAULT_EXIT_AFTER_INSERT="true", TOLLWAY_METERING_ACK_WAIT_S="1"
    )
    assert await _wait_exit(crashing) == _FAULT_EXIT_CODE, crashing.log()[-4000:]

    # It really died between the two: the rows are in the warehouse, and not one was acked.
    inserted = query_folder(metering.folder(), "SELECT request_id FROM tollway.usage_requests")
    assert len(inserted) == len(events)
    assert {request_id for (request_id,) in inserted} == {event.request_id for event in events}
    info = await js.consumer_info(contract.USAGE_STREAM, contract.USAGE_DURABLE)
    assert info.ack_floor is not None
    assert info.delivered is not None
    assert (info.ack_floor.stream_seq, info.delivered.stream_seq) == (0, len(events))

    # The inserted batch was never acked: it comes back after ack_wait and is inserted again.
    restarted = await metering.start(TOLLWAY_METERING_ACK_WAIT_S="1")
    later = [_event(index) for index in range(25, 30)]
    await _publish(js, later)
    await _wait_all_acked(js, restarted)
    await _stored_once(nc, restarted, events + later)
    assert restarted.stop(timeout=20) == 0, restarted.log()[-4000:]

    # The redelivered batch wrote nothing again, so the rollups count what billing counts.
    (raw,) = query_folder(metering.folder(), "SELECT count() FROM tollway.usage_requests")
    assert int(raw[0]) == len(events + later)
    assert _rollup_totals(metering.folder()) == _billing_totals(metering.folder())


def _billing_totals(folder: Path) -> list[list[Any]]:
    return query_folder(
        folder,
        "SELECT count(), countIf(status_code >= 400), sum(prompt_tokens), "
        "sum(completion_tokens), toString(sum(toDecimal128(cost, 9))) "
        "FROM tollway.usage_requests FINAL",
    )


def _rollup_totals(folder: Path) -> list[list[Any]]:
    minute = query_folder(
        folder,
        "SELECT sumMerge(requests), sumMerge(errors), sumMerge(prompt_tokens), "
        "sumMerge(completion_tokens), toString(sumMerge(cost)) FROM tollway.usage_minute",
    )
    daily = query_folder(
        folder, "SELECT sum(requests), toString(sum(cost)) FROM tollway.cost_daily"
    )
    assert [daily[0][0], daily[0][1]] == [minute[0][0], minute[0][4]]
    return minute


def _client_cut(event: UsageEvent) -> UsageEvent:
    """The edge's event for a request whose router it lost: the client got a 502."""
    return event.model_copy(
        update={
            "source": UsageSource.EDGE,
            "status_code": 502,
            "error_type": "server_error",
            "error_code": "router_lost",
            "provider": "",
            "deployment": "",
            "completion_tokens": 2,
            "total_tokens": event.prompt_tokens + 2,
            "usage_estimated": True,
        }
    )


async def test_the_edges_event_merges_with_the_routers_in_either_order(
    js_client: tuple[Client, JetStreamContext], metering: _Metering
) -> None:
    nc, js = js_client
    router_first = [_event(index) for index in range(4)]
    edge_first = [_event(index) for index in range(4, 7)]
    answered = [_event(index) for index in range(7, 10)]
    process = await metering.start()

    await _publish(js, router_first + answered)
    await _stored_once(nc, process, router_first + answered)
    await _publish(js, [_client_cut(event) for event in router_first + edge_first])
    await _stored_rows(nc, process, {event.request_id for event in edge_first})
    await _publish(js, edge_first)
    await _wait_all_acked(js, process)
    rows = {
        row.request_id: row
        for row in await _stored_once(nc, process, router_first + edge_first + answered)
    }
    assert process.stop(timeout=20) == 0, process.log()[-4000:]

    for event in router_first + edge_first:
        # What the client got (the edge's 502), what the provider charged (the router's usage).
        row = rows[event.request_id]
        assert (row.status_code, row.error_code) == (502, "router_lost")
        assert (row.prompt_tokens, row.completion_tokens) == (event.prompt_tokens, 5)
        assert (row.provider, row.usage_estimated) == ("fake", False)
    assert {rows[event.request_id].status_code for event in answered} == {200}
    assert _rollup_totals(metering.folder()) == _billing_totals(metering.folder())


async def _publish_until_acked(js: JetStreamContext, event: UsageEvent) -> None:
    """What the router does: retry with the same message id until JetStream acknowledges."""
    headers = {contract.HEADER_MSG_ID: usage_msg_id(event.request_id)}
    for _ in range(600):
        try:
            await js.publish(
                contract.USAGE_SUBJECT, contract.encode(event), headers=headers, timeout=1
            )
            return
        except (nats.errors.Error, TimeoutError):
            await asyncio.sleep(0.05)
    pytest.fail(f"event {event.request_id} never acknowledged")


async def test_nats_restarted_under_load_loses_and_doubles_no_usage_event(
    tmp_path: Path, nats_srv: NatsServer, metering: _Metering
) -> None:
    process = await metering.start(TOLLWAY_METERING_ACK_WAIT_S="2")
    nc = await nats.connect(
        nats_srv.url_as("test"), max_reconnect_attempts=-1, reconnect_time_wait=0.1
    )
    restarted: NatsServer | None = None
    try:
        js = nc.jetstream()
        await nats_client.ensure_usage_stream(js, replicas=1)
        events = [_event(index) for index in range(300)]
        third = asyncio.Event()

        async def publish_all() -> None:
            for index, event in enumerate(events):
                await _publish_until_acked(js, event)
                if index == len(events) // 3:
                    third.set()

        publisher = asyncio.create_task(publish_all())
        await third.wait()
        # Killed, not stopped: nothing is flushed, in-flight publishes and acks are lost.
        await asyncio.to_thread(nats_srv.kill)
        restarted = await asyncio.to_thread(
            start_test_nats, tmp_path / "nats", nats_srv.credentials, nats_srv.port
        )
        await asyncio.wait_for(publisher, _WAIT_S)

        await _stored_once(nc, process, events)
        info = await js.stream_info(contract.USAGE_STREAM)
        # Stored events leave the work queue; its sequence counts every one it ever took.
        assert info.state.last_seq == len(events), "retried publishes were deduplicated"
        await _wait_all_acked(js, process)
        assert process.popen.poll() is None, "metering rode out the restart"
    finally:
        await nc.close()
        if restarted is not None:
            restarted.stop()
