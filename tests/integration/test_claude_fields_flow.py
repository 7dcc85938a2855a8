"""Every OpenAI sampling and format parameter, sent with the official openai SDK through the
edge to Claude deployments of three generations: each request is answered (2xx) or refused
with a clear 400 naming the parameter, never a 5xx; and legacy completions on Claude, streamed
and not."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam
from tests.support.fake_anthropic_server import FakeAnthropicServer
from tests.support.openai_schema import validate_openai
from tests.support.stack import Stack, open_stack

from tollway_common.config_file import BootstrapKey, TollwayConfig
from tollway_common.control import Deployment, ModelAlias

KEY = "sk-tollway-claude-fields-0123456789ab"
# alias -> the Claude model behind it: today's API, the 4.5 generation, one without native
# structured outputs.
MODELS = {
    "claude-current": "claude-opus-4-7",
    "claude-4-5": "claude-haiku-4-5",
    "claude-4-1": "claude-opus-4-1",
}
HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Refund policy?"}]
SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string", "maxLength": 80}},
    "required": ["answer"],
    "additionalProperties": False,
}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
OK = 200
# (parameters, the status, the refused parameter)
PARAMETERS: list[tuple[dict[str, Any], int, str | None]] = [
    ({"temperature": 0.25}, OK, None),
    ({"temperature": 0.25, "top_p": 0.9}, OK, None),
    ({"top_p": 0.5}, OK, None),
    ({"temperature": 2.5}, 400, "temperature"),
    ({"frequency_penalty": 0.5, "presence_penalty": -0.5}, OK, None),
    ({"seed": 42}, OK, None),
    ({"logit_bias": {"50256": -100}}, OK, None),
    ({"stop": ["END", "STOP"]}, OK, None),
    ({"max_tokens": 300}, OK, None),
    ({"max_completion_tokens": 300}, OK, None),
    ({"n": 1}, OK, None),
    ({"n": 2}, 400, "n"),
    ({"logprobs": True, "top_logprobs": 2}, 400, "logprobs"),
    ({"response_format": {"type": "text"}}, OK, None),
    ({"response_format": {"type": "json_object"}}, OK, None),
    (
        {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": SCHEMA, "strict": True},
            }
        },
        OK,
        None,
    ),
    ({"reasoning_effort": "minimal"}, OK, None),
    ({"reasoning_effort": "high", "max_completion_tokens": 20000}, OK, None),
    ({"reasoning_effort": "xhigh"}, OK, None),
    ({"reasoning_effort": "none"}, OK, None),
    ({"verbosity": "low"}, OK, None),
    ({"service_tier": "priority"}, OK, None),
    ({"service_tier": "flex"}, OK, None),
    ({"store": True, "metadata": {"team": "a"}}, OK, None),
    ({"prediction": {"type": "content", "content": "Refunds"}}, OK, None),
    ({"modalities": ["text"]}, OK, None),
    ({"modalities": ["text", "audio"], "audio": {"voice": "alloy", "format": "wav"}}, 400, None),
    ({"web_search_options": {"search_context_size": "low"}}, 400, "web_search_options"),
    ({"prompt_cache_key": "tenant-1", "prompt_cache_retention": "24h"}, OK, None),
    ({"safety_identifier": "hash-1", "user": "u-1"}, OK, None),
    ({"tools": [WEATHER], "tool_choice": "auto", "parallel_tool_calls": False}, OK, None),
    ({"stream": True, "stream_options": {"include_usage": True}}, OK, None),
]


@pytest.fixture(scope="module")
def fields_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Any]]:
    workdir = tmp_path_factory.mktemp("claude-fields")
    (workdir / "key").write_text(KEY)
    (workdir / "upstream").write_text("sk-ant-test-fields")
    with ExitStack() as cleanup:
        upstream = cleanup.enter_context(FakeAnthropicServer())
        stack = open_stack(workdir, cleanup)
        stack.apply(
            TollwayConfig(
                models=[
                    _alias(name, model, upstream, workdir / "upstream")
                    for name, model in MODELS.items()
                ],
                keys=[BootstrapKey(name="t", secret=f"file:{workdir / 'key'}")],
            )
        )
        stack.start_router()
        stack.start_edge()
        yield stack, upstream
        upstream.raise_invalid_requests()


def _alias(name: str, model: str, upstream: FakeAnthropicServer, secret: Path) -> ModelAlias:
    deployment = Deployment(
        name=f"{name}-direct",
        provider="anthropic",
        model=model,
        api_base=upstream.base_url,
        api_key=f"file:{secret}",
    )
    return ModelAlias(name=name, deployments=[deployment])


def _client(stack: Stack) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=stack.base_url, api_key=KEY, max_retries=0)


async def _create(client: AsyncOpenAI, model: str, parameters: dict[str, Any]) -> None:
    if parameters.get("stream"):
        stream = await client.chat.completions.create(model=model, messages=HELLO, **parameters)
        chunks = [chunk async for chunk in stream]
        assert chunks[-1].usage is not None
        return
    completion = await client.chat.completions.create(model=model, messages=HELLO, **parameters)
    validate_openai("CreateChatCompletionResponse", completion.model_dump(exclude_unset=True))
    assert completion.choices[0].message.content


@pytest.mark.parametrize("alias", sorted(MODELS))
@pytest.mark.parametrize(
    ("parameters", "status", "param"),
    PARAMETERS,
    ids=["-".join(sorted(p)) + f"-{s}" for p, s, _ in PARAMETERS],
)
@pytest.mark.proves("sdk_stack", "anthropic")
@pytest.mark.proves("sampling", "anthropic")
@pytest.mark.proves("response_format", "anthropic")
async def test_each_sampling_and_format_parameter_is_a_2xx_or_a_clear_400(
    fields_stack: tuple[Stack, FakeAnthropicServer],
    alias: str,
    parameters: dict[str, Any],
    status: int,
    param: str | None,
) -> None:
    stack, _ = fields_stack
    async with _client(stack) as client:
        if status == OK:
            await _create(client, alias, parameters)
            return
        with pytest.raises(openai.BadRequestError) as refused:
            await _create(client, alias, parameters)
    body = refused.value.response.json()
    validate_openai("ErrorResponse", body)
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["param"] == (param or body["error"]["param"])
    assert body["error"]["param"] in parameters


@pytest.mark.proves("sampling", "anthropic")
@pytest.mark.proves("claude_capabilities", "anthropic")
async def test_temperature_reaches_the_models_that_take_it_and_is_dropped_for_the_rest(
    fields_stack: tuple[Stack, FakeAnthropicServer],
) -> None:
    stack, upstream = fields_stack
    upstream.requests.clear()
    async with _client(stack) as client:
        for alias in ("claude-current", "claude-4-5"):
            await client.chat.completions.create(model=alias, messages=HELLO, temperature=0.25)
    [(_, current), (_, older)] = upstream.requests
    assert "temperature" not in current
    assert older["temperature"] == 0.25


@pytest.mark.proves("legacy_endpoints", "anthropic")
@pytest.mark.proves("sdk_stack", "anthropic")
async def test_completions_on_claude_stream_and_not(
    fields_stack: tuple[Stack, FakeAnthropicServer],
) -> None:
    stack, upstream = fields_stack
    upstream.requests.clear()
    async with _client(stack) as client:
        completion = await client.completions.create(
            model="claude-4-5", prompt="Refund policy?", max_tokens=50, temperature=0.2
        )
        stream = await client.completions.create(
            model="claude-current",
            prompt=["Say hello to Oslo."],
            max_tokens=50,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
        with pytest.raises(openai.BadRequestError) as refused:
            await client.completions.create(model="claude-4-5", prompt=[1, 2, 3], max_tokens=5)
    validate_openai("CreateCompletionResponse", completion.model_dump(exclude_unset=True))
    assert completion.object == "text_completion"
    assert completion.choices[0].text == "Refunds are accepted within 30 days of purchase."
    assert {chunk.object for chunk in chunks} == {"text_completion"}
    assert "".join(c.choices[0].text for c in chunks if c.choices)
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert refused.value.response.json()["error"]["param"] == "prompt"
    [(_, plain), (_, streamed)] = upstream.requests
    assert plain["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Refund policy?"}]}
    ]
    assert (plain["max_tokens"], plain["temperature"]) == (50, 0.2)
    assert streamed["stream"] is True
