"""Anthropic's Messages API through the whole stack, as Claude Code and the anthropic SDK use
it: the official anthropic SDK in front of the edge, the anthropic SDK (direct and Foundry)
behind the router, a fake Anthropic API that checks every request against the published schema
and verifies the thinking signatures sent back. Every answer, event and error the client gets is
checked against Anthropic's published schema too."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from decimal import Decimal
from typing import Any, Protocol

import anthropic
import httpx
import orjson
import pytest
from anthropic import AsyncAnthropic
from tests.support.analytics import wait_for_usage
from tests.support.anthropic_schema import validate_anthropic, validate_anthropic_event
from tests.support.fake_anthropic_server import COUNTED_TOKENS, FakeAnthropicServer
from tests.support.polling import eventually
from tests.support.stack import Stack, open_stack

from tollway_common.config_file import BootstrapKey, TollwayConfig
from tollway_common.control import Budget, Deployment, Limits, ModelAlias, Price

KEY = "sk-tollway-messages-test-0123456789ab"
LIMITED_KEY = "sk-tollway-messages-limited-0123456"
BUDGET_KEY = "sk-tollway-messages-budget-01234567"
UPSTREAM_KEY = "sk-ant-messages-never-logged-012345"
FOUNDRY_KEY = "foundry-messages-never-logged-01234"
ALLOWED_BETAS = ["interleaved-thinking-*", "context-1m-2025-08-07"]
# Small enough for the too-large test to need only a modest body.
MAX_BODY_BYTES = 100_000
NATIVE = ["claude", "claude-foundry"]
HELLO: list[anthropic.types.MessageParam] = [{"role": "user", "content": "Refund policy?"}]
WEATHER_TOOL: anthropic.types.ToolParam = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def _direct(name: str, upstream: FakeAnthropicServer, secrets: Any, **fields: Any) -> ModelAlias:
    deployment = Deployment.model_validate(
        {
            "name": f"{name}-direct",
            "provider": "anthropic",
            "model": "claude-sonnet-4-5",
            "api_base": upstream.base_url,
            "api_key": f"file:{secrets / 'upstream'}",
            **fields,
        }
    )
    return ModelAlias(name=name, deployments=[deployment])


@pytest.fixture(scope="module")
def module_messages_stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Stack, FakeAnthropicServer]]:
    workdir = tmp_path_factory.mktemp("messages")
    secrets = workdir / "secrets"
    secrets.mkdir()
    for name, value in {
        "key": KEY,
        "limited": LIMITED_KEY,
        "budget": BUDGET_KEY,
        "upstream": UPSTREAM_KEY,
        "foundry": FOUNDRY_KEY,
    }.items():
        (secrets / name).write_text(value)
    with ExitStack() as cleanup:
        upstream = cleanup.enter_context(
            FakeAnthropicServer(keys={"": UPSTREAM_KEY, "contoso-east": FOUNDRY_KEY})
        )
        stack = open_stack(workdir, cleanup)
        foundry = Deployment(
            name="foundry",
            provider="anthropic",
            model="claude-opus-4-1",
            foundry_resource="contoso-east",
            api_key=f"file:{secrets / 'foundry'}",
        )
        models = [
            _direct("claude", upstream, secrets, anthropic_betas=ALLOWED_BETAS),
            ModelAlias(name="claude-foundry", deployments=[foundry]),
            *(_direct(f"claude-{case}", upstream, secrets) for case in ("429", "529", "limited")),
            _direct("claude-budget", upstream, secrets),
            ModelAlias(
                name="gpt-local",
                deployments=[
                    Deployment(
                        name="local", provider="openai", model="m", api_base="http://127.0.0.1:9"
                    )
                ],
            ),
        ]
        stack.apply(
            TollwayConfig(
                models=models,
                keys=[
                    BootstrapKey(name="t", secret=f"file:{secrets / 'key'}"),
                    BootstrapKey(
                        name="limited",
                        secret=f"file:{secrets / 'limited'}",
                        limits=Limits(rpm=2),
                    ),
                    BootstrapKey(
                        name="budget", secret=f"file:{secrets / 'budget'}", budget_ids=["tiny"]
                    ),
                ],
                budgets=[Budget(budget_id="tiny", amount=Decimal("0.5"))],
                prices=[
                    Price(
                        model="claude-budget",
                        input_per_mtok=Decimal(1000),
                        output_per_mtok=Decimal(1000),
                    )
                ],
            )
        )
        stack.start_router(TOLLWAY_ROUTER_FOUNDRY_BASE_URL=upstream.foundry_base_url)
        stack.start_edge(TOLLWAY_EDGE_MAX_BODY_BYTES=str(MAX_BODY_BYTES))
        stack.start_metering()
        yield stack, upstream
        logs = stack.logs()
        assert UPSTREAM_KEY not in logs
        assert FOUNDRY_KEY not in logs


@pytest.fixture
def messages_stack(
    module_messages_stack: tuple[Stack, FakeAnthropicServer],
) -> Iterator[tuple[Stack, FakeAnthropicServer]]:
    """The module's stack, its fake Anthropic API as a fresh one would be."""
    _, upstream = module_messages_stack
    upstream.requests.clear()
    upstream.resources.clear()
    upstream.fail_with = None
    upstream.stream_case = "text_stream"
    upstream.response_case = "chat"
    yield module_messages_stack
    upstream.raise_invalid_requests()


def _client(stack: Stack, key: str = KEY, **options: Any) -> AsyncAnthropic:
    return AsyncAnthropic(base_url=stack.edge_url, api_key=key, max_retries=0, **options)


def _http(stack: Stack) -> httpx.AsyncClient:
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
    return httpx.AsyncClient(base_url=stack.edge_url, headers=headers, timeout=30)


def _events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """Every `event:`/`data:` frame of an Anthropic stream, each checked against the schema."""
    events = []
    for block in raw.decode().split("\n\n"):
        if not block.strip():
            continue
        name, data = block.split("\n", 1)
        assert name.startswith("event: "), block
        assert data.startswith("data: "), block
        payload = orjson.loads(data[len("data: ") :])
        validate_anthropic_event(payload)
        assert payload["type"] == name[len("event: ") :]
        events.append((payload["type"], payload))
    return events


class _Answer(Protocol):
    """An HTTP answer, from httpx or from the anthropic SDK's own HTTP client."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    def json(self) -> Any: ...


def _check_error(response: _Answer, status: int, kind: str) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    if kind != "request_too_large":
        # Anthropic documents request_too_large (413), but its published schema omits it.
        validate_anthropic("ErrorResponse", body)
    assert response.status_code == status
    assert body["type"] == "error"
    assert body["error"]["type"] == kind
    assert body["request_id"] == response.headers["request-id"]
    assert response.headers["x-request-id"] == response.headers["request-id"]
    return body


@pytest.mark.parametrize("model", NATIVE)
async def test_messages_create_forwards_the_body_as_it_came(
    messages_stack: tuple[Stack, FakeAnthropicServer], model: str
) -> None:
    stack, upstream = messages_stack
    sent: dict[str, Any] = {
        "max_tokens": 512,
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "document",
                        "source": {"type": "text", "media_type": "text/plain", "data": "30 days."},
                        "citations": {"enabled": True},
                    },
                    {"type": "text", "text": "Refund policy?"},
                ],
            }
        ],
        "tools": [WEATHER_TOOL, {"type": "web_search_20250305", "name": "web_search"}],
        "metadata": {"user_id": "user-7f3a"},
    }
    # The locked SDK has no `temperature`; the API (and so the gateway) still takes it.
    extra = {"temperature": 0.25}
    async with _client(stack) as client:
        raw = await client.messages.with_raw_response.create(model=model, **sent, extra_body=extra)
    message = await raw.parse()
    validate_anthropic("Message", raw.http_response.json())
    assert raw.http_response.headers["request-id"]
    assert message.content[0].type == "text"
    assert message.content[0].text == "Refunds are accepted within 30 days of purchase."
    [(_, body)] = upstream.requests
    deployment_model = "claude-sonnet-4-5" if model == "claude" else "claude-opus-4-1"
    assert body == {**sent, **extra, "model": deployment_model}
    assert upstream.resources == ["" if model == "claude" else "contoso-east"]


@pytest.mark.parametrize("model", NATIVE)
async def test_a_messages_stream_is_relayed_event_for_event(
    messages_stack: tuple[Stack, FakeAnthropicServer], model: str
) -> None:
    stack, _ = messages_stack
    body = {"model": model, "max_tokens": 256, "messages": HELLO, "stream": True}
    async with _http(stack) as http:
        response = await http.post("/v1/messages", json=body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert b"[DONE]" not in response.content
    events = _events(response.content)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "message_start"
    assert kinds[-2:] == ["message_delta", "message_stop"]
    async with (
        _client(stack) as client,
        client.messages.stream(model=model, max_tokens=256, messages=HELLO) as stream,
    ):
        text = await stream.get_final_text()
        final = await stream.get_final_message()
    assert text
    assert final.usage.output_tokens > 0


@pytest.mark.parametrize("model", NATIVE)
async def test_count_tokens_is_asked_of_the_deployment(
    messages_stack: tuple[Stack, FakeAnthropicServer], model: str
) -> None:
    stack, upstream = messages_stack
    async with _client(stack) as client:
        counted = await client.messages.count_tokens(
            model=model,
            messages=HELLO,
            system="Be brief.",
            tools=[WEATHER_TOOL],
        )
    assert counted.input_tokens == COUNTED_TOKENS
    [(_, body)] = upstream.requests
    assert body["system"] == "Be brief."
    assert body["model"] != model, "the deployment's model is sent"


async def test_count_tokens_on_a_model_that_cannot_count_is_the_gateway_estimate(
    messages_stack: tuple[Stack, FakeAnthropicServer],
) -> None:
    stack, upstream = messages_stack
    prompt = "word " * 400
    async with _client(stack) as client:
        raw = await client.messages.with_raw_response.count_tokens(
            model="gpt-local", messages=[{"role": "user", "content": prompt}]
        )
    validate_anthropic("CountMessageTokensResponse", raw.http_response.json())
    assert (await raw.parse()).input_tokens == len(prompt) // 4
    assert upstream.requests == []


async def test_streamed_tool_use_reaches_the_sdk_as_tool_input(
    messages_stack: tuple[Stack, FakeAnthropicServer],
) -> None:
    stack, upstream = messages_stack
    upstream.stream_case = "tool_calls_stream"
    async with (
        _client(stack) as client,
        client.messages.stream(
            model="claude",
            max_tokens=512,
            messages=[{"role": "user", "content": "Weather in Oslo and Paris?"}],
            tools=[WEATHER_TOOL],
        ) as stream,
    ):
        partial = [event async for event in stream if event.type == "input_json"]
        final = await stream.get_final_message()
    tools = [block for block in final.content if block.type == "tool_use"]
    assert tools
    assert tools[0].name == "get_weather"
    assert tools[0].input == {"city": "Oslo"}
    assert partial, "the tool input streamed as input_json_delta"
    assert final.stop_reason == "tool_use"


async def test_thinking_with_a_tool_round_trip_keeps_the_signatures(
    messages_stack: tuple[Stack, FakeAnthropicServer],
) -> None:
    stack, upstream = messages_stack
    upstream.response_case = "thinking"
    ask: list[anthropic.types.MessageParam] = [{"role": "user", "content": "Weather in Oslo?"}]
    thinking: anthropic.types.ThinkingConfigParam = {"type": "enabled", "budget_tokens": 2048}
    async with _client(stack) as client:
        first = await client.messages.create(
            model="claude",
            max_tokens=4096,
            thinking=thinking,
            tools=[WEATHER_TOOL],
            messages=ask,
        )
        [call] = [block for block in first.content if block.type == "tool_use"]
        # As Claude Code sends it back: the answer's blocks as they came, signatures included.
        turns: list[Any] = [
            *ask,
            {
                "role": "assistant",
                "content": [b.model_dump(exclude_none=True) for b in first.content],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "4°C"}],
            },
        ]
        second = await client.messages.create(
            model="claude",
            max_tokens=4096,
            thinking=thinking,
            tools=[WEATHER_TOOL],
            messages=turns,
        )
        assert second.content
        forged = [*turns]
        forged[1] = {
            "role": "assistant",
            "content": [
                {**first.content[0].model_dump(exclude_none=True), "signature": "forged"},
                *[b.model_dump(exclude_none=True) for b in first.content[1:]],
            ],
        }
        with pytest.raises(anthropic.BadRequestError) as refused:
            await client.messages.create(
                model="claude",
                max_tokens=4096,
                thinking=thinking,
                tools=[WEATHER_TOOL],
                messages=forged,
            )
    sent_back = upstream.requests[1][1]["messages"][1]["content"][0]
    assert sent_back["signature"] == first.content[0].signature  # type: ignore[union-attr]
    validate_anthropic("ErrorResponse", refused.value.response.json())
    assert "signature" in refused.value.message


async def test_anthropic_beta_values_travel_only_where_the_deployment_allows_them(
    messages_stack: tuple[Stack, FakeAnthropicServer],
) -> None:
    stack, upstream = messages_stack
    asked = "interleaved-thinking-2025-05-14, files-api-2025-04-14,context-1m-2025-08-07"
    async with _client(stack, default_headers={"anthropic-beta": asked}) as client:
        for model in NATIVE:
            await client.messages.create(model=model, max_tokens=64, messages=HELLO)
    (direct, _), (foundry, _) = upstream.requests
    assert direct["anthropic-beta"] == "interleaved-thinking-2025-05-14,context-1m-2025-08-07"
    assert "anthropic-beta" not in foundry


async def test_metadata_user_id_is_forwarded_and_checked(
    messages_stack: tuple[Stack, FakeAnthropicServer],
) -> None:
    stack, upstream = messages_stack
    async with _http(stack) as http:
        body = {"model": "claude", "max_tokens": 64, "messages": HELLO}
        # As Claude Code calls it: its beta client adds `?beta=true`.
        ok = await http.post(
            "/v1/messages?beta=true", json={**body, "metadata": {"user_id": "u-1"}}
        )
        bad = await http.post("/v1/messages", json={**body, "metadata": {"user_id": 7}})
    assert ok.status_code == 200
    assert upstream.requests[0][1]["metadata"] == {"user_id": "u-1"}
    assert "metadata.user_id" in _check_error(bad, 400, "invalid_request_error")["error"]["message"]
    assert len(upstream.requests) == 1


async def test_authorization_bearer_works_as_claude_codes_auth_token(
    messages_stack: tuple[Stack, FakeAnthropicServer],
) -> None:
    stack, _ = messages_stack
    async with AsyncAnthropic(base_url=stack.edge_url, auth_token=KEY, max_retries=0) as client:
        message = await client.messages.create(model="claude", max_tokens=64, messages=HELLO)
        counted = await client.beta.messages.count_tokens(
            model="claude", messages=[{"role": "user", "content": "Hi"}]
        )
    assert message.content
    assert counted.input_tokens == COUNTED_TOKENS
    async with _client(stack, key="sk-tollway-not-a-key-000000000") as client:
        with pytest.raises(anthropic.AuthenticationError) as refused:
            await client.messages.create(model="claude", max_tokens=64, messages=HELLO)
    _check_error(refused.value.response, 401, "authentication_error")


async def test_bad_requests_are_anthropic_400s_and_413s(
    messages_stack: tuple[Stack, FakeAnthropicServer],
) -> None:
    stack, upstream = messages_stack
    deep: Any = "x"
    for _ in range(80):
        deep = [deep]
    async with _http(stack) as http:
        missing = await http.post("/v1/messages", json={"model": "claude", "messages": HELLO})
        typed = await http.post(
            "/v1/messages",
            json={"model": "claude", "max_tokens": "many", "messages": HELLO},
        )
        nested = await http.post(
            "/v1/messages",
            json={"model": "claude", "max_tokens": 5, "messages": HELLO, "x": deep},
        )
        large = await http.post(
            "/v1/messages",
            json={"model": "claude", "max_tokens": 5, "messages": HELLO, "x": "y" * MAX_BODY_BYTES},
        )
        unknown = await http.post(
            "/v1/messages", json={"model": "no-such", "max_tokens": 5, "messages": HELLO}
        )
    assert "max_tokens" in _check_error(missing, 400, "invalid_request_error")["error"]["message"]
    assert "max_tokens" in _check_error(typed, 400, "invalid_request_error")["error"]["message"]
    _check_error(nested, 400, "invalid_request_error")
    _check_error(large, 413, "request_too_large")
    _check_error(unknown, 404, "not_found_error")
    assert upstream.requests == []


async def test_upstream_overloaded_stays_529_and_rate_limits_are_429_with_retry_after(
    messages_stack: tuple[Stack, FakeAnthropicServer],
) -> None:
    stack, upstream = messages_stack
    async with _client(stack) as client:
        upstream.fail_with = (529, "error_529")
        with pytest.raises(anthropic.OverloadedError) as overloaded:
            await client.messages.create(model="claude-529", max_tokens=64, messages=HELLO)
        upstream.fail_with = (429, "error_429")
        with pytest.raises(anthropic.RateLimitError) as limited:
            await client.messages.create(model="claude-429", max_tokens=64, messages=HELLO)
    _check_error(overloaded.value.response, 529, "overloaded_error")
    _check_error(limited.value.response, 429, "rate_limit_error")
    assert limited.value.response.headers["retry-after"]


async def test_an_error_mid_stream_is_an_anthropic_error_event(
    messages_stack: tuple[Stack, FakeAnthropicServer],
) -> None:
    stack, upstream = messages_stack
    upstream.stream_case = "stream_error"
    body = {"model": "claude", "max_tokens": 64, "messages": HELLO, "stream": True}
    async with _http(stack) as http:
        response = await http.post("/v1/messages", json=body)
    events = _events(response.content)
    assert events[0][0] == "message_start"
    assert events[-1][0] == "error"
    assert "message_stop" not in [kind for kind, _ in events]


async def test_limits_count_messages_and_token_counts_as_requests(
    messages_stack: tuple[Stack, FakeAnthropicServer],
) -> None:
    stack, _ = messages_stack
    async with _client(stack, key=LIMITED_KEY) as client:
        await client.messages.create(model="claude-limited", max_tokens=64, messages=HELLO)
        await client.messages.count_tokens(model="claude-limited", messages=HELLO)
        with pytest.raises(anthropic.RateLimitError) as limited:
            await client.messages.create(model="claude-limited", max_tokens=64, messages=HELLO)
    body = _check_error(limited.value.response, 429, "rate_limit_error")
    assert "requests per minute" in body["error"]["message"]
    assert int(limited.value.response.headers["retry-after"]) >= 1


async def test_usage_is_metered_by_endpoint_and_budgets_apply(
    messages_stack: tuple[Stack, FakeAnthropicServer],
) -> None:
    stack, _ = messages_stack
    async with _client(stack, key=BUDGET_KEY) as client:
        # Counted first: a spent budget refuses the key everything, token counts included.
        counted = await client.messages.with_raw_response.count_tokens(
            model="claude-budget", messages=HELLO
        )
        raw = await client.messages.with_raw_response.create(
            model="claude-budget", max_tokens=64, messages=HELLO
        )
        ids = [
            raw.http_response.headers["request-id"],
            counted.http_response.headers["request-id"],
        ]
        rows = {row.request_id: row for row in await wait_for_usage(stack.nats.url_as("test"), ids)}

        async def refused_by_the_budget() -> anthropic.RateLimitError:
            try:
                await client.messages.create(model="claude-budget", max_tokens=64, messages=HELLO)
            except anthropic.RateLimitError as exc:
                return exc
            raise AssertionError("the spent budget still admits requests")

        refusal = await eventually(refused_by_the_budget, "the budget refuses")
    message = rows[ids[0]]
    assert (message.endpoint, message.provider, message.status_code) == (
        "messages",
        "anthropic",
        200,
    )
    # The recorded reply: 14 fresh, 2048 cache-read and 312 cache-written input tokens.
    assert (message.cached_read_tokens, message.cache_write_tokens) == (2048, 312)
    assert message.prompt_tokens == 14 + 312 + 2048
    assert message.completion_tokens > 0
    count = rows[ids[1]]
    assert count.endpoint == "messages_count_tokens"
    assert (count.prompt_tokens, count.completion_tokens) == (0, 0)
    _check_error(refusal.response, 429, "rate_limit_error")
    assert refusal.response.headers["x-should-retry"] == "false"


async def test_models_list_is_anthropics_when_the_client_speaks_anthropic(
    messages_stack: tuple[Stack, FakeAnthropicServer],
) -> None:
    stack, _ = messages_stack
    async with _client(stack) as client:
        page = await client.models.with_raw_response.list(limit=2)
        model = await client.models.retrieve("claude")
        with pytest.raises(anthropic.NotFoundError) as missing:
            await client.models.retrieve("no-such-model")
    validate_anthropic("ListResponse_ModelInfo_", page.http_response.json())
    listed = await page.parse()
    assert len(listed.data) == 2
    assert listed.has_more is True
    assert model.id == "claude"
    assert model.type == "model"
    _check_error(missing.value.response, 404, "not_found_error")
    async with httpx.AsyncClient(base_url=stack.base_url) as http:
        openai_style = await http.get("/models", headers={"authorization": f"Bearer {KEY}"})
    assert openai_style.json()["object"] == "list"
