"""Shared fixtures. Those that start real servers (nats-server, redis-server, fake upstreams,
Tollway services) are only used by integration and end-to-end tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests.support.configs import TEST_KEY, gateway_config
from tests.support.fake_openai_server import FakeOpenAIServer
from tests.support.nats import start_test_nats
from tests.support.stack import Stack, open_stack
from tollway_cli.servers import NatsServer, RedisServer, start_redis

pytest_plugins = ["tests.support.matrix_plugin"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = str(item.path)
        if "/tests/integration/" in path:
            item.add_marker(pytest.mark.integration)
        elif "/tests/e2e/" in path:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    server = start_test_nats(tmp_path / "nats")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = start_redis(tmp_path / "redis")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    """A plain client of the test's redis-server, for seeding and inspecting it."""
    client = Redis.from_url(redis_server.url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def fake_upstream() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def stack(
    tmp_path: Path,
    nats_server: NatsServer,
    redis_server: RedisServer,
    fake_upstream: FakeOpenAIServer,
) -> Iterator[Stack]:
    """Config applied, one router and one edge running; tests add what else they need."""
    stack = Stack(nats=nats_server, redis=redis_server, workdir=tmp_path)
    try:
        stack.apply(gateway_config(tmp_path, fake_upstream.base_url))
        stack.start_router()
        stack.start_edge()
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def module_upstream() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture(scope="module")
def module_stack(
    tmp_path_factory: pytest.TempPathFactory, module_upstream: FakeOpenAIServer
) -> Iterator[Stack]:
    """What `stack` starts, once for a whole module; tests use it through `shared_stack`."""
    workdir = tmp_path_factory.mktemp("stack")
    with ExitStack() as cleanup:
        stack = open_stack(workdir, cleanup)
        stack.apply(gateway_config(workdir, module_upstream.base_url))
        stack.start_router()
        stack.start_edge()
        yield stack


@pytest.fixture
def shared_upstream(module_upstream: FakeOpenAIServer) -> Iterator[FakeOpenAIServer]:
    """The module's fake upstream as a fresh one would be: no requests recorded, no fault; the
    test that sent it an invalid request fails."""
    module_upstream.reset()
    yield module_upstream
    module_upstream.raise_invalid_requests()


@pytest.fixture
def shared_stack(module_stack: Stack, shared_upstream: FakeOpenAIServer) -> Stack:
    """`stack`, shared by the tests of a module that only send requests and read answers: a
    test that stops a process, changes config, or leaves state behind in the router (an
    upstream fault cools a deployment down) or in Redis (limits, budgets) takes `stack`."""
    return module_stack


@pytest.fixture
def api_key() -> str:
    return TEST_KEY
