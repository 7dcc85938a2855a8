"""Per-request Foundry tenancy through the whole stack: callers bring their own Foundry
resource and key (`resource:key`, or the key with the model `resource/<alias>`), the router
calls that resource, limits and usage count per tenant, every other combination is refused
clearly, and no tenant key reaches a log, a KV revision, the usage stream or a usage row."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import nats
import openai
import pytest
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam
from tests.support.analytics import wait_for_usage
from tests.support.fake_anthropic_server import FakeAnthropicServer
from tests.support.nats import start_test_nats
from tests.support.openai_schema import validate_openai
from tests.support.stack import Stack

from tollway_cli.servers import start_redis
from tollway_common import contract
from tollway_common.config_file import BootstrapKey, TollwayConfig
from tollway_common.control import Deployment, Limits, ModelAlias, Tenancy

VIRTUAL_KEY = "sk-tollway-tenancy-test-0123456789a"
KEY_A = "tenantAkey0never0logged0stored0000001"
KEY_B = "tenantBkey0never0logged0stored0000002"
WRONG_KEY = "tenantCkey0the0resource0refuses00003"
KEY_D = "tenantDkey0never0logged0stored0000004"
KEY_E = "tenantEkey0never0logged0stored0000005"
KEY_F = "tenantFkey0never0logged0stored0000006"
TENANT_KEYS = (KEY_A, KEY_B, WRONG_KEY, KEY_D, KEY_E, KEY_F)
HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello tenant"}]
TENANT_RPM = 4
FOUNDRY = Deployment(name="foundry-sonnet", provider="anthropic", model="claude-sonnet-4-5")


class TenancyStack:
    def __init__(self, stack: Stack, foundry: FakeAnthropicServer) -> None:
        self.stack = stack
        self.foundry = foundry
        self.request_ids: list[str] = []

    def client(self, key: str) -> AsyncOpenAI:
        return AsyncOpenAI(base_url=self.stack.base_url, api_key=key, max_retries=0)

    async def chat(self, key: str, model: str, stream: bool = False) -> str:
        """The answer's text; every body and chunk checked against OpenAI's schema."""
        async with self.client(key) as client:
            if not stream:
                raw = await client.chat.completions.with_raw_response.create(
                    model=model, messages=HELLO
                )
                self.request_ids.append(raw.http_response.headers["x-request-id"])
                validate_openai("CreateChatCompletionResponse", raw.http_response.json())
                return raw.parse().choices[0].message.content or ""
            raw_stream = await client.chat.completions.with_raw_response.create(
                model=model, messages=HELLO, stream=True, stream_options={"include_usage": True}
            )
            self.request_ids.append(raw_stream.http_response.headers["x-request-id"])
            chunks = [chunk async for chunk in raw_stream.parse()]
        for chunk in chunks:
            validate_openai(
                "CreateChatCompletionStreamResponse", chunk.model_dump(exclude_unset=True)
            )
        assert chunks[-1].usage is not None
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    async def refused(
        self,
        key: str,
        model: str,
        error: type[openai.APIStatusError],
        dispatched: bool = False,
    ) -> dict[str, str]:
        """The error body; `dispatched`: the router served it (so it is metered)."""
        async with self.client(key) as client:
            with pytest.raises(error) as raised:
                await client.chat.completions.create(model=model, messages=HELLO)
        if dispatched:
            self.request_ids.append(raised.value.response.headers["x-request-id"])
        body = raised.value.response.json()
        validate_openai("ErrorResponse", body)
        assert not any(key in raised.value.response.text for key in TENANT_KEYS[:2])
        error_body: dict[str, str] = body["error"]
        return error_body

    def resources(self) -> list[str]:
        seen = list(self.foundry.resources)
        self.foundry.resources.clear()
        self.foundry.requests.clear()
        return seen


@pytest.fixture(scope="module")
def tenancy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TenancyStack]:
    workdir = tmp_path_factory.mktemp("tenancy")
    (workdir / "key").write_text(VIRTUAL_KEY)
    nats_server, redis = start_test_nats(workdir / "nats"), start_redis(workdir / "redis")
    with FakeAnthropicServer(
        keys={
            "tenant-a": KEY_A,
            "tenant-b": KEY_B,
            "tenant-d": KEY_D,
            "tenant-e": KEY_E,
            "tenant-f": KEY_F,
        }
    ) as foundry:
        stack = Stack(nats=nats_server, redis=redis, workdir=workdir)
        try:
            stack.apply(
                TollwayConfig(
                    models=[
                        ModelAlias(
                            name="claude-tenant",
                            deployments=[FOUNDRY],
                            tenancy=Tenancy.PER_REQUEST,
                            tenant_limits=Limits(rpm=TENANT_RPM),
                            tenant_deployments=["claude-haiku-*", "team-*"],
                            tenant_deployments_deny=["team-secret*"],
                        ),
                        ModelAlias(
                            name="claude-shared",
                            deployments=[
                                FOUNDRY.model_copy(
                                    update={"name": "shared", "foundry_resource": "shared"}
                                )
                            ],
                        ),
                    ],
                    keys=[BootstrapKey(name="t", secret=f"file:{workdir / 'key'}")],
                )
            )
            # DEBUG everywhere: not even debug logs may carry a tenant's key.
            stack.start_router(
                TOLLWAY_ROUTER_FOUNDRY_BASE_URL=foundry.foundry_base_url,
                TOLLWAY_ROUTER_LOG__LEVEL="DEBUG",
            )
            stack.start_edge(TOLLWAY_EDGE_LOG__LEVEL="DEBUG")
            stack.start_metering(TOLLWAY_METERING_LOG__LEVEL="DEBUG")
            yield TenancyStack(stack, foundry)
        finally:
            stack.stop()
            redis.stop()
            nats_server.stop()


@pytest.mark.proves("tenancy", "anthropic")
@pytest.mark.proves("sdk_stack", "anthropic")
async def test_a_resource_and_key_in_the_api_key_call_that_resource(
    tenancy: TenancyStack,
) -> None:
    tenancy.resources()
    assert await tenancy.chat(f"tenant-a:{KEY_A}", "claude-tenant")
    assert await tenancy.chat(f"tenant-a:{KEY_A}", "claude-tenant", stream=True)
    assert [headers["api-key"] for headers, _ in tenancy.foundry.requests] == [KEY_A, KEY_A]
    assert tenancy.resources() == ["tenant-a", "tenant-a"]


@pytest.mark.proves("tenancy", "anthropic")
async def test_a_resource_in_the_model_and_a_plain_key_call_that_resource(
    tenancy: TenancyStack,
) -> None:
    tenancy.resources()
    assert await tenancy.chat(KEY_B, "tenant-b/claude-tenant")
    [(headers, body)] = tenancy.foundry.requests
    assert headers["api-key"] == KEY_B
    assert body["model"] == "claude-sonnet-4-5"
    assert tenancy.resources() == ["tenant-b"]


@pytest.mark.proves("tenancy", "anthropic")
@pytest.mark.parametrize(
    ("key", "model"),
    [(KEY_B, "tenant-b/claude-haiku-4-5"), (f"tenant-b:{KEY_B}", "team-b-sonnet")],
    ids=["resource_in_model", "resource_in_key"],
)
async def test_a_tenant_calls_its_own_deployment_name_the_entry_allows(
    tenancy: TenancyStack, key: str, model: str
) -> None:
    tenancy.resources()
    assert await tenancy.chat(key, model)
    [(headers, body)] = tenancy.foundry.requests
    assert headers["api-key"] == KEY_B
    assert body["model"] == model.rpartition("/")[2]
    assert tenancy.resources() == ["tenant-b"]


@pytest.mark.proves("tenancy", "anthropic")
@pytest.mark.parametrize(
    ("key", "model", "error", "code"),
    [
        (f"tenant-a:{KEY_A}", "claude-shared", openai.AuthenticationError, "invalid_api_key"),
        (KEY_A, "claude-tenant", openai.AuthenticationError, "invalid_api_key"),
        (f"evil.example:{KEY_A}", "claude-tenant", openai.AuthenticationError, "invalid_api_key"),
        (KEY_A, "evil.example/claude-tenant", openai.BadRequestError, "invalid_value"),
        (
            f"tenant-a:{KEY_A}",
            "tenant-a/claude-tenant",
            openai.AuthenticationError,
            "invalid_api_key",
        ),
        (KEY_A, "tenant-a/claude-shared", openai.AuthenticationError, "invalid_api_key"),
        (KEY_A, "tenant-a/claude-opus-4-5", openai.AuthenticationError, "invalid_api_key"),
        (KEY_A, "tenant-a/team-secret-1", openai.AuthenticationError, "invalid_api_key"),
    ],
    ids=[
        "tenancy_off",
        "no_resource",
        "resource_not_a_dns_label",
        "model_resource_not_a_dns_label",
        "resource_twice",
        "model_without_tenancy",
        "deployment_not_allowed",
        "deployment_denied",
    ],
)
async def test_every_other_combination_is_refused_clearly_and_nothing_is_sent(
    tenancy: TenancyStack,
    key: str,
    model: str,
    error: type[openai.APIStatusError],
    code: str,
) -> None:
    tenancy.resources()
    body = await tenancy.refused(key, model, error)
    assert body["code"] == code
    assert tenancy.resources() == []


@pytest.mark.proves("tenancy", "anthropic")
@pytest.mark.proves("errors", "anthropic")
async def test_a_key_the_tenants_resource_refuses_is_502_not_401(tenancy: TenancyStack) -> None:
    body = await tenancy.refused(
        f"tenant-a:{WRONG_KEY}", "claude-tenant", openai.InternalServerError, dispatched=True
    )
    assert body["code"] == "upstream_auth_failed"


@pytest.mark.proves("tenancy", "anthropic")
async def test_each_tenant_has_its_own_limits(tenancy: TenancyStack) -> None:
    refusal: openai.RateLimitError | None = None
    async with tenancy.client(KEY_B) as client:
        for _ in range(TENANT_RPM + 1):
            try:
                await client.chat.completions.create(model="tenant-b/claude-tenant", messages=HELLO)
            except openai.RateLimitError as exc:
                refusal = exc
                break
    assert refusal is not None, "the tenant's rpm was enforced"
    body = refusal.response.json()
    validate_openai("ErrorResponse", body)
    assert body["error"]["code"] == "rate_limit_exceeded"
    assert "tenant tenant-b" in body["error"]["message"]
    assert await tenancy.chat(f"tenant-a:{KEY_A}", "claude-tenant"), "another tenant is unaffected"


async def _stored(nats_url: str) -> bytes:
    """Every KV revision of every bucket and every message of every stream."""
    nc = await nats.connect(nats_url)
    found = b""
    try:
        js = nc.jetstream()
        for stream in await js.streams_info():
            name = stream.config.name
            assert name is not None
            last = stream.state.last_seq
            for seq in range(stream.state.first_seq, last + 1 if stream.state.messages else 0):
                try:
                    message = await js.get_msg(name, seq)
                except nats.js.errors.NotFoundError:
                    continue
                found += (message.data or b"") + repr(message.headers).encode()
    finally:
        await nc.close()
    return found


@pytest.mark.proves("tenancy_secret_kept", "anthropic")
async def test_no_tenant_key_is_logged_stored_or_metered(tenancy: TenancyStack) -> None:
    nats_url = tenancy.stack.nats.url_as("test")
    # Usage events leave their work queue once metering stores them: read them as published.
    watcher = await nats.connect(nats_url)
    try:
        published = await watcher.subscribe(contract.USAGE_SUBJECT)
        await watcher.flush()
        await tenancy.chat(f"tenant-d:{KEY_D}", "claude-tenant", stream=True)
        await tenancy.chat(KEY_E, "tenant-e/claude-tenant")
        watched = tenancy.request_ids[-2:]
        rows = await wait_for_usage(nats_url, tenancy.request_ids)
        events = b""
        while published.pending_msgs:
            message = await published.next_msg(timeout=1)
            events += message.data + repr(message.headers).encode()
    finally:
        await watcher.close()
    assert {row.request_id for row in rows} >= set(tenancy.request_ids)
    tenant_ids = {row.key_id for row in rows if row.key_id.startswith("tenant-")}
    assert len(tenant_ids) >= 2, "usage is kept per tenant"
    metered = b"".join(contract.encode(row) for row in rows)
    stored = await _stored(nats_url) + events
    watched_ids = {row.key_id for row in rows if row.request_id in watched}
    assert len(watched_ids) == 2, "one key per tenant"
    assert all(key_id.encode() in events for key_id in watched_ids), "usage events were read"
    # JetStream's file store keeps messages as written: the key would be there in plain text.
    nats_files = b"".join(
        path.read_bytes() for path in (tenancy.stack.workdir / "nats").rglob("*") if path.is_file()
    )
    logs = tenancy.stack.logs().encode()
    assert b'"level": "DEBUG"' in logs or b'"level":"DEBUG"' in logs, "debug logs were on"
    for key in TENANT_KEYS:
        assert key.encode() not in metered, "a tenant key is in a usage row"
        assert key.encode() not in stored, "a tenant key is in a KV revision or stream message"
        assert key.encode() not in nats_files, "a tenant key is in NATS's store on disk"
        assert key.encode() not in logs, "a tenant key is in a log"


@pytest.mark.proves("tenancy", "anthropic")
@pytest.mark.parametrize(
    ("key", "model"),
    [(f"tenant-f:{KEY_F}", "claude-haiku-4-5"), (KEY_F, "tenant-f/claude-tenant")],
    ids=["own_deployment_resource_in_key", "alias_resource_in_model"],
)
async def test_the_messages_api_takes_the_same_tenancy(
    tenancy: TenancyStack, key: str, model: str
) -> None:
    tenancy.resources()
    async with anthropic.AsyncAnthropic(
        base_url=tenancy.stack.edge_url, api_key=key, max_retries=0
    ) as client:
        message = await client.messages.create(
            model=model, max_tokens=64, messages=[{"role": "user", "content": "Hello tenant"}]
        )
    assert message.content
    [(headers, body)] = tenancy.foundry.requests
    assert headers["api-key"] == KEY_F
    assert body["model"] == ("claude-haiku-4-5" if "haiku" in model else "claude-sonnet-4-5")
    assert tenancy.resources() == ["tenant-f"]
