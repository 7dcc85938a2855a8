"""Claude through the whole stack: the official openai SDK in front, the official anthropic
SDK behind the router, a fake Anthropic API replaying recorded traffic on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import openai
import pytest
from openai import AsyncOpenAI
from tests.support.fake_anthropic_server import FakeAnthropicServer
from tests.support.openai_schema import validate_openai
from tests.support.stack import Stack, open_stack

from tollway_common.config_file import BootstrapKey, TollwayConfig
from tollway_common.control import Deployment, ModelAlias

KEY = "sk-tollway-claude-test-0123456789abcd"
UPSTREAM_KEY = "sk-ant-test-never-logged-0123456789"


# Each error case has a model of its own: the router sets a deployment aside after an upstream
# 429 or 401, so one case's refusal must not decide what the next case's request meets.
ERROR_CASES = [
    (429, "error_429", openai.RateLimitError),
    (529, "error_529", openai.InternalServerError),
    (401, "error_401", openai.InternalServerError),
    (400, "error_400", openai.BadRequestError),
]


def _claude(name: str, upstream: FakeAnthropicServer, secret: Path) -> ModelAlias:
    deployment = Deployment(
        name=f"{name}-direct",
        provider="anthropic",
        model="claude-sonnet-4-5",
        api_base=upstream.base_url,
        api_key=f"file:{secret}",
    )
    return ModelAlias(name=name, deployments=[deployment])


@pytest.fixture(scope="module")
def module_claude_stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Stack, FakeAnthropicServer]]:
    workdir = tmp_path_factory.mktemp("claude")
    (workdir / "key").write_text(KEY)
    (workdir / "upstream").write_text(UPSTREAM_KEY)
    with ExitStack() as cleanup:
        upstream = cleanup.enter_context(FakeAnthropicServer())
        stack = open_stack(workdir, cleanup)
        models = ["claude", *(f"claude-{case}" for _, case, _ in ERROR_CASES)]
        stack.apply(
            TollwayConfig(
                models=[_claude(name, upstream, workdir / "upstream") for name in models],
                keys=[BootstrapKey(name="t", secret=f"file:{workdir / 'key'}")],
            )
        )
        stack.start_router()
        stack.start_edge()
        yield stack, upstream


@pytest.fixture
def claude_stack(
    module_claude_stack: tuple[Stack, FakeAnthropicServer],
) -> Iterator[tuple[Stack, FakeAnthropicServer]]:
    """The module's stack, its fake Anthropic API as a fresh one would be."""
    _, upstream = module_claude_stack
    upstream.requests.clear()
    upstream.resources.clear()
    upstream.fail_with = None
    upstream.stream_case = "text_stream"
    yield module_claude_stack
    upstream.raise_invalid_requests()


def _client(stack: Stack) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=stack.base_url, api_key=KEY, max_retries=0)


async def test_chat_completion_from_claude(
    claude_stack: tuple[Stack, FakeAnthropicServer],
) -> None:
    stack, upstream = claude_stack
    async with _client(stack) as client:
        completion = await client.chat.completions.create(
            model="claude",
            messages=[
                {"role": "system", "content": "Answer briefly."},
                {"role": "user", "content": "Refund policy?"},
            ],
        )
    validate_openai("CreateChatCompletionResponse", completion.model_dump(exclude_unset=True))
    assert completion.choices[0].message.content == (
        "Refunds are accepted within 30 days of purchase."
    )
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 14 + 312 + 2048
    [(headers, body)] = upstream.requests
    # The SDK sends the key the way its version prefers (x-api-key, or a bearer token).
    assert UPSTREAM_KEY in (headers.get("x-api-key"), headers.get("authorization", "")[7:])
    assert body["model"] == "claude-sonnet-4-5"
    assert body["system"] in ("Answer briefly.", [{"type": "text", "text": "Answer briefly."}])


async def test_streamed_chat_completion_from_claude(
    claude_stack: tuple[Stack, FakeAnthropicServer],
) -> None:
    stack, _ = claude_stack
    async with _client(stack) as client:
        stream = await client.chat.completions.create(
            model="claude",
            messages=[{"role": "user", "content": "Hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    for chunk in chunks:
        validate_openai("CreateChatCompletionStreamResponse", chunk.model_dump(exclude_unset=True))
    assert len({chunk.id for chunk in chunks}) == 1
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0


@pytest.mark.parametrize(("status", "case", "error"), ERROR_CASES)
async def test_anthropic_errors_reach_the_client_as_openai_errors(
    claude_stack: tuple[Stack, FakeAnthropicServer],
    status: int,
    case: str,
    error: type[openai.APIStatusError],
) -> None:
    stack, upstream = claude_stack
    upstream.fail_with = (status, case)
    async with _client(stack) as client:
        with pytest.raises(error) as raised:
            await client.chat.completions.create(
                model=f"claude-{case}", messages=[{"role": "user", "content": "Hi"}]
            )
    validate_openai("ErrorResponse", raised.value.response.json())
    assert UPSTREAM_KEY not in raised.value.response.text
