"""OAuth accounts in deployment pools, shared by routers through NATS KV: single-use refresh
tokens spent exactly once per rotation however many routers race for them, kept across a
router restart, sealed at rest; a refused refresh sets the account aside; direct Anthropic
takes the accounts' tokens as `Authorization: Bearer` with the OAuth beta, through the SDK."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import anthropic
import httpx
import pytest
from cryptography.fernet import Fernet
from nats.aio.client import Client
from tests.support.fake_anthropic_server import OAUTH_BETA, FakeAnthropicServer
from tests.support.fake_token_server import FakeTokenServer
from tests.support.nats import start_test_nats
from tests.support.polling import eventually
from tests.support.stack import Stack, open_stack

from tollway_cli.servers import NatsServer
from tollway_common import contract, nats_client, oauth_tokens
from tollway_common.bus_permissions import Service
from tollway_common.config_file import BootstrapKey, TollwayConfig
from tollway_common.control import Credential, Deployment, ModelAlias, OAuthRefreshToken
from tollway_common.errors import UpstreamAuthFailed, UpstreamUnavailable
from tollway_common.secret_refs import SecretResolver
from tollway_router.credentials.token_cache import TokenCache
from tollway_router.credentials.token_seal import Sealer
from tollway_router.credentials.token_store import SharedTokens
from tollway_router.settings import ManagedIdentitySettings

CLIENTS = ("claude-code-a", "claude-code-b")
SEEDS = {"claude-code-a": "fake-refresh-seed-a-61f0", "claude-code-b": "fake-refresh-seed-b-9d2e"}
KEY = "sk-tollway-oauth-pool-0123456789abcd"
ADMIN_TOKEN = "admin-token-oauth-pools-0123456789"
HELLO: list[anthropic.types.MessageParam] = [{"role": "user", "content": "Refund policy?"}]


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _seed_files(folder: Path) -> dict[str, str]:
    """The refresh token references of each client, as a config file names them."""
    folder.mkdir(exist_ok=True)
    references = {}
    for client, seed in SEEDS.items():
        (folder / client).write_text(seed)
        references[client] = f"file:{folder / client}"
    return references


def _presented(server: FakeTokenServer) -> list[str]:
    return [seen.params["refresh_token"] for seen in server.requests]


# --- two refreshers on one real nats-server KV ------------------------------------------


@pytest.fixture
async def bus(tmp_path: Path) -> AsyncIterator[tuple[NatsServer, list[Client]]]:
    server = start_test_nats(tmp_path / "nats")
    clients: list[Client] = []
    try:
        yield server, clients
    finally:
        for nc in clients:
            await nc.close()
        server.stop()


@pytest.fixture
def token_server() -> Iterator[FakeTokenServer]:
    with FakeTokenServer(refresh_tokens=dict(SEEDS)) as server:
        yield server


class Routers:
    """Token caches as separate routers hold them: one NATS connection each, one key."""

    def __init__(self, server: NatsServer, clients: list[Client], clock: Clock) -> None:
        self.server = server
        self.clients = clients
        self.clock = clock
        self.key = Fernet.generate_key().decode()
        self.caches: list[TokenCache] = []

    async def start(self, name: str) -> TokenCache:
        nc = await nats_client.connect(
            self.server.settings(Service.ROUTER), name, service=Service.ROUTER
        )
        self.clients.append(nc)
        js = nc.jetstream()
        shared = SharedTokens(
            await nats_client.ensure_kv(js, contract.KV_OAUTH_TOKENS, 1),
            await nats_client.ensure_kv(js, contract.KV_OAUTH_HEALTH, 1),
            Sealer([self.key]),
            name,
            lease_s=15,
            clock=self.clock,
        )
        await shared.start()
        cache = TokenCache(
            SecretResolver(), ManagedIdentitySettings(), 10, clock=self.clock, shared=shared
        )
        self.caches.append(cache)
        return cache

    async def close(self) -> None:
        for cache in self.caches:
            await cache.close()


@pytest.fixture
async def routers(bus: tuple[NatsServer, list[Client]]) -> AsyncIterator[Routers]:
    server, clients = bus
    routers = Routers(server, clients, Clock())
    yield routers
    await routers.close()


def _account(server: FakeTokenServer, seeds: dict[str, str], client: str) -> OAuthRefreshToken:
    return OAuthRefreshToken(
        type="oauth_refresh_token",
        token_url=f"{server.url}/generic/token",
        client_id=client,
        refresh_token=seeds[client],
    )


async def test_two_routers_racing_spend_each_refresh_token_exactly_once(
    routers: Routers, token_server: FakeTokenServer, tmp_path: Path
) -> None:
    auth = _account(token_server, _seed_files(tmp_path / "seeds"), CLIENTS[0])
    one, two = await routers.start("router-1"), await routers.start("router-2")
    for rotation in range(1, 4):
        token_server.gate.clear()
        token_server.received.clear()
        racing = [
            asyncio.create_task(c.token(auth, "", "claude", "a")) for c in (one, two, one, two)
        ]
        assert await asyncio.to_thread(token_server.received.wait, 10)
        await asyncio.sleep(0.3)  # time for a second token request, were one to be sent
        token_server.gate.set()
        tokens = await asyncio.gather(*racing)
        assert len(set(tokens)) == 1
        assert len(token_server.requests) == rotation
        routers.clock.now += token_server.expires_in  # every token now expired
    presented = _presented(token_server)
    assert presented[0] == SEEDS[CLIENTS[0]]
    assert len(set(presented)) == len(presented), "a refresh token was presented twice"


async def test_a_restarted_router_reads_the_shared_token_and_the_rotated_refresh_token(
    routers: Routers, token_server: FakeTokenServer, tmp_path: Path
) -> None:
    auth = _account(token_server, _seed_files(tmp_path / "seeds"), CLIENTS[0])
    first = await (await routers.start("router-1")).token(auth, "", "claude", "a")
    restarted = await routers.start("router-1-again")
    assert await restarted.token(auth, "", "claude", "a") == first
    assert len(token_server.requests) == 1
    routers.clock.now += token_server.expires_in
    assert await restarted.token(auth, "", "claude", "a") != first
    assert _presented(token_server)[1] != SEEDS[CLIENTS[0]], "the seed was spent twice"


async def test_tokens_are_sealed_in_kv_and_health_holds_no_secret(
    routers: Routers,
    token_server: FakeTokenServer,
    tmp_path: Path,
    bus: tuple[NatsServer, list[Client]],
) -> None:
    auth = _account(token_server, _seed_files(tmp_path / "seeds"), CLIENTS[0])
    access = await (await routers.start("router-1")).token(auth, "", "claude", "alice")
    js = bus[1][0].jetstream()
    account = oauth_tokens.account_key(auth, None)
    stored = (await (await js.key_value(contract.KV_OAUTH_TOKENS)).get(account)).value or b""
    health = (await (await js.key_value(contract.KV_OAUTH_HEALTH)).get(account)).value or b""
    secrets = [access, SEEDS[CLIENTS[0]], token_server.refresh_tokens[CLIENTS[0]]]
    for secret in secrets:
        assert secret.encode() not in stored
        assert secret.encode() not in health
    record = oauth_tokens.decode_token_health(health)
    assert (record.deployment, record.credential, record.state, record.failures) == (
        "claude",
        "alice",
        oauth_tokens.TokenState.ACTIVE,
        0,
    )
    assert record.expires_at > routers.clock.now


async def test_a_refused_refresh_makes_the_account_invalid_until_a_new_seed(
    routers: Routers, token_server: FakeTokenServer, tmp_path: Path
) -> None:
    seeds = _seed_files(tmp_path / "seeds")
    auth = _account(token_server, seeds, CLIENTS[0])
    token_server.refresh_tokens[CLIENTS[0]] = "fake-refresh-revoked"
    cache = await routers.start("router-1")
    with pytest.raises(UpstreamAuthFailed, match="invalid_grant"):
        await cache.token(auth, "", "claude", "a")
    other = await routers.start("router-2")
    with pytest.raises(UpstreamAuthFailed, match="invalid_grant"):
        await other.token(auth, "", "claude", "a")
    assert len(token_server.requests) == 1, "an invalid chain is not tried again"
    # The operator signs the account in again: the reference names a new refresh token.
    (tmp_path / "seeds" / CLIENTS[0]).write_text("fake-refresh-signed-in-again")
    token_server.refresh_tokens[CLIENTS[0]] = "fake-refresh-signed-in-again"
    fresh = await routers.start("router-3")
    assert await fresh.token(auth, "", "claude", "a")


async def test_a_failing_token_endpoint_keeps_the_valid_token_serving_and_backs_off(
    routers: Routers, token_server: FakeTokenServer, tmp_path: Path
) -> None:
    auth = _account(token_server, _seed_files(tmp_path / "seeds"), CLIENTS[0])
    cache = await routers.start("router-1")
    current = await cache.token(auth, "", "claude", "a")
    token_server.fail_with = 503
    routers.clock.now += token_server.expires_in - 100  # due for refresh, still valid
    assert await cache.token(auth, "", "claude", "a") == current
    await cache.settled()
    other = await routers.start("router-2")
    assert await other.token(auth, "", "claude", "a") == current
    assert len(token_server.requests) == 2, "the second router backs off"
    routers.clock.now += 200  # expired, backoff over
    with pytest.raises(UpstreamUnavailable):
        await other.token(auth, "", "claude", "a")
    token_server.fail_with = None
    routers.clock.now += 60
    assert await other.token(auth, "", "claude", "a") != current


# --- the whole stack: two routers, direct Anthropic, a restart ----------------------------


def _pool(
    upstream: FakeAnthropicServer, server: FakeTokenServer, seeds: dict[str, str]
) -> ModelAlias:
    credentials = [
        Credential(name=f"account-{i}", auth=_account(server, seeds, client))
        for i, client in enumerate(CLIENTS, 1)
    ]
    deployment = Deployment(
        name="claude-accounts",
        provider="anthropic",
        model="claude-sonnet-4-5",
        api_base=upstream.base_url,
        credentials=credentials,
    )
    return ModelAlias(name="claude-pool", deployments=[deployment])


@dataclass
class PoolStack:
    """Two routers sharing an OAuth pool behind one edge, with admin; the tests of this
    module run in order against it (traffic and a restart, then admin, then a revocation)."""

    stack: Stack
    upstream: FakeAnthropicServer
    tokens: FakeTokenServer
    admin_url: str = ""


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PoolStack]:
    workdir = tmp_path_factory.mktemp("pool")
    with ExitStack() as cleanup:
        tokens = cleanup.enter_context(FakeTokenServer(refresh_tokens=dict(SEEDS), expires_in=2))
        upstream = cleanup.enter_context(FakeAnthropicServer(tokens=tokens))
        stack = open_stack(workdir, cleanup)
        seeds = _seed_files(workdir / "seeds")
        (workdir / "key").write_text(KEY)
        stack.apply(
            TollwayConfig(
                models=[_pool(upstream, tokens, seeds)],
                keys=[BootstrapKey(name="t", secret=f"file:{workdir / 'key'}")],
            )
        )
        stack.start_router("router-1", **_router_env())
        stack.start_router("router-2", **_router_env())
        stack.start_edge()
        yield PoolStack(stack, upstream, tokens)
        logs = stack.logs()
        for secret in [*SEEDS.values(), *tokens.refresh_tokens.values(), *tokens.issued]:
            assert secret not in logs


@pytest.fixture
async def admin(pool: PoolStack) -> AsyncIterator[httpx.AsyncClient]:
    if not pool.admin_url:
        pool.admin_url = pool.stack.start_admin(ADMIN_TOKEN)
    headers = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(base_url=pool.admin_url, headers=headers) as client:
        yield client


def _router_env() -> dict[str, str]:
    return {
        "TOLLWAY_ROUTER_OAUTH__ENCRYPTION_KEY": "env:TOLLWAY_TEST_OAUTH_KEY",
        "TOLLWAY_TEST_OAUTH_KEY": ROUTERS_KEY,
        "TOLLWAY_ROUTER_OAUTH__REFRESH_INTERVAL_S": "0.2",
    }


ROUTERS_KEY = Fernet.generate_key().decode()


async def _ask(stack: Stack, count: int) -> None:
    async with anthropic.AsyncAnthropic(
        base_url=stack.edge_url, api_key=KEY, max_retries=0
    ) as client:
        for _ in range(count):
            message = await client.messages.create(
                model="claude-pool", max_tokens=64, messages=HELLO
            )
            assert isinstance(message, anthropic.types.Message)
            await asyncio.sleep(0.05)


def _no_refresh_token_presented_twice(tokens: FakeTokenServer) -> None:
    presented = _presented(tokens)
    assert len(set(presented)) == len(presented), "a refresh token was presented twice"


async def test_two_routers_share_an_oauth_pool_across_refreshes(pool: PoolStack) -> None:
    upstream, tokens = pool.upstream, pool.tokens
    await _ask(pool.stack, 30)
    headers = [sent for sent, _ in upstream.requests]
    assert all(OAUTH_BETA in h.get("anthropic-beta", "") for h in headers)
    assert all("x-api-key" not in h for h in headers)
    bearers = {h["authorization"].removeprefix("Bearer ") for h in headers}
    assert {tokens.issued[b].client_id for b in bearers} == set(CLIENTS), "both accounts served"
    assert all(seen.params.get("scope") is None for seen in tokens.requests)
    _no_refresh_token_presented_twice(tokens)


async def test_the_pool_keeps_serving_across_a_router_restart(pool: PoolStack) -> None:
    stack, tokens = pool.stack, pool.tokens
    [first] = [p for p in stack.processes if p.name == "router-1"]
    first.stop(timeout=10)
    await _ask(stack, 20)
    # The same router again (its id), in a log of its own so readiness is its own.
    stack.start_router(
        "router-1-restarted", **{**_router_env(), "TOLLWAY_ROUTER_ROUTER_ID": "router-1"}
    )
    await _ask(stack, 20)
    _no_refresh_token_presented_twice(tokens)
    refreshes = {
        client: sum(1 for seen in tokens.requests if seen.params["client_id"] == client)
        for client in CLIENTS
    }
    assert min(refreshes.values()) >= 3, refreshes


async def test_admin_shows_each_accounts_token_health_and_the_counts(
    pool: PoolStack, admin: httpx.AsyncClient
) -> None:
    tokens = pool.tokens
    answer = await admin.get("/api/v1/models/claude-pool/health")
    assert answer.status_code == 200
    accounts = answer.json()["tokens"]
    assert [(a["deployment"], a["credential"], a["state"]) for a in accounts] == [
        ("claude-accounts", "account-1", "active"),
        ("claude-accounts", "account-2", "active"),
    ]
    assert all(a["expires_at"] > a["last_refresh"] > 0 for a in accounts)
    assert all(a["updated_by"] in ("router-1", "router-2") for a in accounts)
    for secret in [*SEEDS.values(), *tokens.refresh_tokens.values(), *tokens.issued]:
        assert secret not in answer.text
    counts = (await admin.get("/api/v1/health/counts")).json()
    assert counts["oauth_accounts"] == {"active": 2, "invalid": 0}
    assert counts["credentials"]["active"] == 2


async def test_a_revoked_account_is_set_aside_and_the_other_serves(
    pool: PoolStack, admin: httpx.AsyncClient
) -> None:
    stack, upstream, tokens = pool.stack, pool.upstream, pool.tokens
    tokens.refresh_tokens[CLIENTS[1]] = "fake-refresh-revoked-by-the-provider"

    async def set_aside() -> None:
        counts = (await admin.get("/api/v1/health/counts")).json()
        assert counts["oauth_accounts"]["invalid"] == 1
        assert counts["credentials"]["invalid"] == 1

    await eventually(set_aside, "account-2 set aside as invalid", within_s=15)
    [account_2] = [
        a
        for a in (await admin.get("/api/v1/models/claude-pool/health")).json()["tokens"]
        if a["credential"] == "account-2"
    ]
    assert account_2["state"] == "invalid"
    assert "invalid_grant" in account_2["reason"]
    await asyncio.sleep(tokens.expires_in)  # account-2's last access token has expired
    upstream.requests.clear()
    await _ask(stack, 10)
    served = {
        tokens.issued[sent["authorization"].removeprefix("Bearer ")].client_id
        for sent, _ in upstream.requests
    }
    assert served == {CLIENTS[0]}
    _no_refresh_token_presented_twice(tokens)
