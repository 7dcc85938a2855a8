"""Body logging through the whole stack: bodies of a key whose policy logs them are stored
redacted (request, whole response, a stream's assembled text); everyone else's, and
everything when the router's body log is off, never leave the router."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import nats
import orjson
import pytest
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from tests.support.analytics import wait_for_usage
from tests.support.configs import gateway_config
from tests.support.fake_openai_server import FakeOpenAIServer
from tests.support.stack import Stack

from tollway_cli.servers import NatsServer, RedisServer
from tollway_common import contract
from tollway_common.config_file import BootstrapKey
from tollway_common.contract import BodyEvent, BodyQuery
from tollway_common.control import Policy

LOGGED_KEY = "sk-tollway-logged-0123456789abcdefgh"
PLAIN_KEY = "sk-tollway-test-0123456789abcdefghij"  # tests.support.configs.TEST_KEY: no policy
SECRET_TEXT = "I am ann@example.com, card 4111 1111 1111 1111, key sk-abcdefghijklmnopqrstu"
REDACTED_TEXT = "I am [REDACTED:email], card [REDACTED:card_number], key [REDACTED:api_key]"


@pytest.fixture
def make_stack(
    tmp_path: Path,
    nats_server: NatsServer,
    redis_server: RedisServer,
    fake_upstream: FakeOpenAIServer,
) -> Iterator[Stack]:
    """The stack without its router: each test starts the router it needs."""
    stack = Stack(nats=nats_server, redis=redis_server, workdir=tmp_path)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "logged").write_text(LOGGED_KEY)
    config = gateway_config(tmp_path, fake_upstream.base_url)
    logged = BootstrapKey(
        name="logged",
        secret=f"file:{tmp_path / 'secrets' / 'logged'}",
        policy=Policy(log_bodies=True),
    )
    stack.apply(config.model_copy(update={"keys": [*config.keys, logged]}))
    try:
        yield stack
    finally:
        stack.stop()


async def _chat(stack: Stack, key: str, stream: bool) -> str:
    body = {"model": "tollway-demo", "messages": [{"role": "user", "content": SECRET_TEXT}]}
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        response = await client.post(
            "/chat/completions",
            json={**body, "stream": stream},
            headers={"authorization": f"Bearer {key}"},
        )
    assert response.status_code == 200, response.text
    return response.headers["x-request-id"]


async def _stopped_router_published(stack: Stack) -> int:
    """Stop the router (its body log publishes what it holds first) and count what reached
    the bodies stream."""
    router = next(p for p in stack.processes if p.name == "router")
    assert await asyncio.to_thread(router.stop, 30) == 0, router.log()[-4000:]
    nc = await nats.connect(stack.nats.url_as("test"))
    try:
        info = await nc.jetstream().stream_info(contract.BODIES_STREAM)
        return int(info.state.messages)
    finally:
        await nc.close()


async def _bodies(nats_url: str, request_ids: list[str], expected: int) -> list[BodyEvent]:
    """Ask metering for the bodies of `request_ids` until `expected` are stored (bounded)."""
    nc = await nats.connect(nats_url)
    found: list[BodyEvent] = []
    try:
        for _ in range(300):
            try:
                reply = await nc.request(
                    contract.analytics_subject("bodies"),
                    contract.encode(BodyQuery(request_ids=request_ids)),
                    timeout=5,
                )
            except (NoRespondersError, NatsTimeout):
                await asyncio.sleep(0.1)
                continue
            answer = contract.decode_body_reply(reply.data)
            assert not answer.error, answer.error
            found = answer.bodies
            if len(found) >= expected:
                break
            await asyncio.sleep(0.1)
        return found
    finally:
        await nc.close()


async def test_bodies_are_stored_redacted_only_for_a_key_whose_policy_logs_them(
    make_stack: Stack,
) -> None:
    stack = make_stack
    stack.start_router()
    stack.start_edge()
    stack.start_metering()
    plain = await _chat(stack, PLAIN_KEY, stream=False)
    whole = await _chat(stack, LOGGED_KEY, stream=False)
    streamed = await _chat(stack, LOGGED_KEY, stream=True)
    await wait_for_usage(stack.nats.url_as("test"), [plain, whole, streamed])

    assert await _stopped_router_published(stack) == 2, "the plain key's bodies never left"
    bodies = {
        b.request_id: b
        for b in await _bodies(stack.nats.url_as("test"), [plain, whole, streamed], 2)
    }

    assert set(bodies) == {whole, streamed}
    for body in bodies.values():
        request = orjson.loads(body.request_body)
        assert request["messages"] == [{"role": "user", "content": REDACTED_TEXT}]
        assert "ann@example.com" not in body.request_body + body.response_body
        assert "4111" not in body.request_body + body.response_body
        assert body.redactions == {"email": 2, "card_number": 2, "api_key": 2}
        assert body.principal.key_id
        assert (body.model_alias, body.status_code) == ("tollway-demo", 200)
        assert (body.request_truncated, body.response_truncated) == (False, False)
    answer = orjson.loads(bodies[whole].response_body)["choices"][0]["message"]["content"]
    assert answer.endswith(f"You said: {REDACTED_TEXT}")
    assert bodies[streamed].stream is True
    assert bodies[streamed].response_body == answer, "a stream is logged as its assembled text"


async def test_no_body_leaves_the_router_when_body_logging_is_off(make_stack: Stack) -> None:
    stack = make_stack
    stack.start_router(TOLLWAY_ROUTER_BODY_LOG__MODE="off")
    stack.start_edge()
    stack.start_metering()
    ids = [await _chat(stack, LOGGED_KEY, stream=stream) for stream in (False, True)]
    await wait_for_usage(stack.nats.url_as("test"), ids)

    assert await _stopped_router_published(stack) == 0
    assert await _bodies(stack.nats.url_as("test"), ids, 0) == []
