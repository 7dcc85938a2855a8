"""The response store on a real nats-server KV, reached as the router's NATS user: ownership,
conversations rebuilt from chains, storing before the closing event leaves, records too large
to keep, and the edges' queries answered in the router's queue group."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from nats.aio.client import Client
from tests.support import fake_responses
from tests.support.nats import start_test_nats

from tollway_cli.servers import NatsServer
from tollway_common import contract, nats_client
from tollway_common.bus_permissions import Service
from tollway_common.contract import (
    ClientInfo,
    Endpoint,
    ErrorReply,
    InferRequest,
    Principal,
    ReplyKind,
    ResolvedRoute,
    ResponseStoreOp,
    ResponseStoreQuery,
)
from tollway_common.errors import InvalidRequest
from tollway_router.providers.adapter import ChunkOut
from tollway_router.responses.answers import StoreAnswers
from tollway_router.responses.records import Share
from tollway_router.responses.session import ResponseSession
from tollway_router.responses.store import ResponseStore, open_bucket

pytestmark = pytest.mark.integration

OWNER = Principal(key_id="key-a", user_id="u1", team_id="t1", org_id="o1")
STRANGER = Principal(key_id="key-b", user_id="u2", team_id="t1", org_id="o1")


@pytest.fixture
async def router_nc(tmp_path: Path) -> AsyncIterator[tuple[NatsServer, Client]]:
    server = start_test_nats(tmp_path / "nats")
    nc = await nats_client.connect(
        server.settings(Service.ROUTER), "test-router", service=Service.ROUTER
    )
    try:
        yield server, nc
    finally:
        await nc.close()
        server.stop()


async def _store(
    nc: Client, share: Share = Share.KEY, max_bytes: int | None = None
) -> ResponseStore:
    kv = await open_bucket(nc.jetstream(), ttl_s=3600, replicas=1)
    return ResponseStore(kv, share, nc.max_payload if max_bytes is None else max_bytes)


def _infer(body: dict[str, Any], principal: Principal = OWNER) -> InferRequest:
    return InferRequest(
        request_id="req-1",
        endpoint=Endpoint.RESPONSES,
        principal=principal,
        route=ResolvedRoute(alias="gpt"),
        received_at_ms=0,
        deadline_ms=0,
        body=body,
        client=ClientInfo(),
    )


async def _answer(
    store: ResponseStore, body: dict[str, Any], who: Principal = OWNER
) -> dict[str, Any]:
    """Serve `body` as the router would: expand, answer (the fake upstream's Response), store."""
    session = ResponseSession(store, _infer(body, who))
    served = await session.expand()
    upstream = {**served.body, "previous_response_id": None}
    answered = await session.answered(orjson.dumps(fake_responses.response(upstream, 1)))
    result: dict[str, Any] = orjson.loads(answered)
    return result


async def test_only_the_owner_reads_or_deletes_a_stored_response(
    router_nc: tuple[NatsServer, Client],
) -> None:
    store = await _store(router_nc[1])
    answer = await _answer(store, {"model": "gpt", "input": "Hello"})
    assert (answer["store"], answer["previous_response_id"]) == (True, None)
    record = await store.get(answer["id"], OWNER)
    assert record is not None
    assert record.response == answer
    assert record.input[0]["content"] == [{"type": "input_text", "text": "Hello"}]
    assert await store.get(answer["id"], STRANGER) is None
    assert await store.delete(answer["id"], STRANGER) is False
    assert await store.delete(answer["id"], OWNER) is True
    assert await store.get(answer["id"], OWNER) is None


async def test_a_team_share_lets_a_teammate_read(router_nc: tuple[NatsServer, Client]) -> None:
    store = await _store(router_nc[1], Share.TEAM)
    answer = await _answer(store, {"model": "gpt", "input": "Hello"})
    assert await store.get(answer["id"], STRANGER) is not None


async def test_a_previous_response_id_puts_the_conversation_before_the_new_input(
    router_nc: tuple[NatsServer, Client],
) -> None:
    store = await _store(router_nc[1])
    first = await _answer(store, {"model": "gpt", "input": "one"})
    second = await _answer(
        store, {"model": "gpt", "input": "two", "previous_response_id": first["id"]}
    )
    assert second["previous_response_id"] == first["id"]
    session = ResponseSession(
        store, _infer({"model": "gpt", "input": "three", "previous_response_id": second["id"]})
    )
    served = await session.expand()
    texts = [item["content"][0]["text"] for item in served.body["input"]]
    assert texts == [
        "one",
        f"{fake_responses.GREETING} one",
        "two",
        f"{fake_responses.GREETING} two",
        "three",
    ]
    assert served.body["previous_response_id"] == second["id"]
    record = await store.get(second["id"], OWNER)
    assert record is not None
    assert [item["content"][0]["text"] for item in record.input] == ["two"], "its own input only"


@pytest.mark.parametrize("who", ["stranger", "nobody"])
async def test_someone_elses_or_a_missing_previous_response_is_not_found(
    router_nc: tuple[NatsServer, Client], who: str
) -> None:
    store = await _store(router_nc[1])
    first = await _answer(store, {"model": "gpt", "input": "one"})
    previous = first["id"] if who == "stranger" else "resp_missing"
    session = ResponseSession(
        store, _infer({"model": "gpt", "input": "x", "previous_response_id": previous}, STRANGER)
    )
    with pytest.raises(InvalidRequest) as raised:
        await session.expand()
    body = raised.value.body()
    assert (raised.value.status, body.code, body.param) == (
        400,
        "previous_response_not_found",
        "previous_response_id",
    )
    assert body.message == f"Previous response with id '{previous}' not found."


async def test_a_stream_is_stored_before_its_closing_event_is_relayed(
    router_nc: tuple[NatsServer, Client],
) -> None:
    store = await _store(router_nc[1])
    body = {"model": "gpt", "input": "Hello", "stream": True}
    session = ResponseSession(store, _infer(body))
    frames = fake_responses.sse(fake_responses.events(body, 1))
    response_id = orjson.loads(frames[0].split(b"data: ", 1)[1])["response"]["id"]
    for frame in frames[:-1]:
        relayed = await session.relay(ChunkOut(frame))
        assert await store.get(response_id, OWNER) is None
        assert b'"store":true' in relayed or not relayed.startswith(b"event: response.created")
    closing = await session.relay(ChunkOut(frames[-1]))
    record = await store.get(response_id, OWNER)
    assert record is not None
    assert closing.startswith(b"event: response.completed\ndata: ")
    assert orjson.loads(closing.split(b"data: ", 1)[1])["response"] == record.response


async def test_store_false_keeps_nothing(router_nc: tuple[NatsServer, Client]) -> None:
    store = await _store(router_nc[1])
    answer = await _answer(store, {"model": "gpt", "input": "Hello", "store": False})
    assert answer["store"] is False
    assert await store.get(answer["id"], OWNER) is None


async def test_a_record_too_large_is_not_stored_but_answered(
    router_nc: tuple[NatsServer, Client],
) -> None:
    store = await _store(router_nc[1], max_bytes=5000)
    answer = await _answer(store, {"model": "gpt", "input": "word " * 2000})
    assert answer["status"] == "completed"
    assert await store.get(answer["id"], OWNER) is None


async def _ask(nc: Client, query: ResponseStoreQuery) -> tuple[str, bytes]:
    reply = await nc.request(contract.RESPONSES_STORE_SUBJECT, contract.encode(query), timeout=5)
    return (reply.headers or {}).get(contract.HEADER_KIND, ""), reply.data


async def test_edges_read_list_and_delete_through_the_routers_queue_group(
    router_nc: tuple[NatsServer, Client],
) -> None:
    server, nc = router_nc
    store = await _store(nc)
    answers = StoreAnswers(nc, store)
    await answers.start()
    edge = await nats_client.connect(
        server.settings(Service.EDGE), "test-edge", service=Service.EDGE
    )
    try:
        answer = await _answer(
            store,
            {
                "model": "gpt",
                "input": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
            },
        )
        rid = answer["id"]

        def query(op: ResponseStoreOp, who: Principal = OWNER, **paging: Any) -> ResponseStoreQuery:
            return ResponseStoreQuery(op=op, response_id=rid, principal=who, **paging)

        assert await _ask(edge, query(ResponseStoreOp.GET)) == (
            ReplyKind.CHUNK,
            orjson.dumps(answer),
        )
        kind, data = await _ask(edge, query(ResponseStoreOp.INPUT_ITEMS, limit=1, order="asc"))
        listed = orjson.loads(data)
        assert [item["content"][0]["text"] for item in listed["data"]] == ["a"]
        assert listed["has_more"] is True
        kind, data = await _ask(edge, query(ResponseStoreOp.GET, STRANGER))
        error = ErrorReply.model_validate_json(data)
        assert (kind, error.status, error.error.message) == (
            ReplyKind.ERROR,
            404,
            f"Response with id '{rid}' not found.",
        )
        kind, data = await _ask(edge, query(ResponseStoreOp.DELETE))
        assert orjson.loads(data) == {"id": rid, "object": "response.deleted", "deleted": True}
        kind, _ = await _ask(edge, query(ResponseStoreOp.GET))
        assert kind == ReplyKind.ERROR
    finally:
        await edge.close()
        await answers.stop()
