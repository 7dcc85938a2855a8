"""Which deployment and credential the router's chooser picks, and the error it gives when none
can take the request; run in the test's process against real health records in NATS KV
(tests/support/router_harness.py)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tests.support.router_harness import InProcessRouter, in_process_router

from tollway_cli.servers import NatsServer
from tollway_common.contract import Capability, Endpoint, InferRequest, Principal, ResolvedRoute
from tollway_common.control import Credential, Deployment, ModelAlias, RoutingStrategy
from tollway_common.errors import ContextLengthExceeded, InvalidRequest, UpstreamUnavailable
from tollway_edge.request_facts import read_facts
from tollway_router.routing.candidates import Choice, Unavailable


def _deployment(name: str, provider: str = "openai", **fields: Any) -> Deployment:
    return Deployment.model_validate({"name": name, "provider": provider, "model": name, **fields})


POOL = [Credential(name="k1", api_key="env:K1"), Credential(name="k2", api_key="env:K2")]
MODELS = {
    "pair": ModelAlias(
        name="pair",
        strategy=RoutingStrategy.PRIORITY,
        deployments=[_deployment("east"), _deployment("west", priority=1)],
    ),
    "pooled": ModelAlias(name="pooled", deployments=[_deployment("keys", credentials=POOL)]),
    "tiny": ModelAlias(name="tiny", deployments=[_deployment("small", context_window=16)]),
    "off": ModelAlias(name="off", deployments=[_deployment("zero", weight=0)]),
    "claude": ModelAlias(name="claude", deployments=[_deployment("c", provider="anthropic")]),
    "mixed": ModelAlias(
        name="mixed",
        strategy=RoutingStrategy.PRIORITY,
        deployments=[
            _deployment("blind", capabilities={"vision": False}),
            _deployment("seeing", priority=1, capabilities={"tools": False}),
        ],
    ),
}
IMAGE = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}


def _infer(alias: str, endpoint: Endpoint = Endpoint.CHAT_COMPLETIONS, **body: Any) -> InferRequest:
    now_ms = int(time.time() * 1000)
    request = {"model": alias, "messages": [{"role": "user", "content": "hello"}], **body}
    return InferRequest(
        request_id="req-1",
        endpoint=endpoint,
        principal=Principal(key_id="k"),
        route=ResolvedRoute(alias=alias),
        received_at_ms=now_ms,
        deadline_ms=now_ms + 30_000,
        body=request,
        facts=read_facts(endpoint, request),
    )


@pytest.fixture
async def router(nats_server: NatsServer) -> AsyncIterator[InProcessRouter]:
    async with in_process_router(nats_server, MODELS.values()) as router:
        yield router


def _choose(router: InProcessRouter, alias: str, tried: set[tuple[str, str]]) -> Choice:
    choice = router.handler.chooser.choose(MODELS[alias], _infer(alias), tried)
    assert isinstance(choice, Choice), choice
    return choice


async def test_a_deployment_this_request_has_not_tried_comes_first(
    router: InProcessRouter,
) -> None:
    assert _choose(router, "pair", set()).deployment.name == "east"
    assert _choose(router, "pair", {("east", "")}).deployment.name == "west"
    # Everything tried: the strategy picks among all again.
    assert _choose(router, "pair", {("east", ""), ("west", "")}).deployment.name == "east"


async def test_the_credentials_of_a_pool_take_turns_and_an_untried_one_comes_first(
    router: InProcessRouter,
) -> None:
    turns = [_choose(router, "pooled", set()) for _ in range(3)]
    assert [(c.credential, c.api_key) for c in turns] == [
        ("k1", "env:K1"),
        ("k2", "env:K2"),
        ("k1", "env:K1"),
    ]
    assert _choose(router, "pooled", {("keys", "k2")}).credential == "k1"


async def test_a_prompt_too_large_for_every_context_window_says_by_how_much(
    router: InProcessRouter,
) -> None:
    infer = _infer("tiny", max_tokens=100)
    found = router.handler.chooser.choose(MODELS["tiny"], infer, set())
    assert isinstance(found, Unavailable)
    error = found.error(MODELS["tiny"], None)
    assert isinstance(error, ContextLengthExceeded)
    assert "max_tokens (100)" in error.message
    assert "largest context window is 16 tokens" in error.message


async def test_an_endpoint_no_deployment_serves_names_the_provider(
    router: InProcessRouter,
) -> None:
    infer = _infer("claude", Endpoint.EMBEDDINGS)
    found = router.handler.chooser.choose(MODELS["claude"], infer, set())
    assert isinstance(found, Unavailable)
    error = found.error(MODELS["claude"], None)
    assert isinstance(error, InvalidRequest)
    assert error.code_override == "unsupported_endpoint"
    assert "provider 'anthropic', which has no embeddings endpoint" in error.message


async def test_a_model_whose_deployments_all_weigh_nothing_is_unavailable(
    router: InProcessRouter,
) -> None:
    found = router.handler.chooser.choose(MODELS["off"], _infer("off"), set())
    assert isinstance(found, Unavailable)
    error = found.error(MODELS["off"], None)
    assert isinstance(error, UpstreamUnavailable)
    assert "no deployment with a weight above zero" in error.message


async def test_a_request_goes_to_a_deployment_that_can_serve_its_content(
    router: InProcessRouter,
) -> None:
    chooser, model = router.handler.chooser, MODELS["mixed"]
    seeing = _infer("mixed", messages=[{"role": "user", "content": [IMAGE]}])
    choice = chooser.choose(model, seeing, set())
    assert isinstance(choice, Choice)
    assert choice.deployment.name == "seeing"
    choice = chooser.choose(model, _infer("mixed", tools=[TOOL]), set())
    assert isinstance(choice, Choice)
    assert choice.deployment.name == "blind"
    # Text alone: the strategy decides (priority: "blind" first).
    choice = chooser.choose(model, _infer("mixed"), set())
    assert isinstance(choice, Choice)
    assert choice.deployment.name == "blind"


async def test_content_no_deployment_can_serve_is_a_400_naming_the_capability(
    router: InProcessRouter,
) -> None:
    both = _infer("mixed", messages=[{"role": "user", "content": [IMAGE]}], tools=[TOOL])
    found = router.handler.chooser.choose(MODELS["mixed"], both, set())
    assert isinstance(found, Unavailable)
    assert [(d.name, lacks) for d, lacks in found.incapable] == [
        ("blind", (Capability.VISION,)),
        ("seeing", (Capability.TOOLS,)),
    ]
    error = found.error(MODELS["mixed"], None)
    assert isinstance(error, InvalidRequest)
    assert error.status == 400
    assert error.code_override == "unsupported_capability"
    assert error.param == "messages"
    assert "no deployment that can serve images and tools (capability vision, tools)" in (
        error.message
    )
