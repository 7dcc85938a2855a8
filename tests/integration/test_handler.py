"""The router's handler in the test's process (tests/support/router_harness.py): retries,
fallbacks, streams that never mix two answers and what each request meters, against scripted
upstreams and a real nats-server. The whole-stack tests (test_routing.py, test_failures.py)
prove the same paths are wired through edge and router processes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from tests.support.router_harness import (
    InProcessRouter,
    Scripted,
    ScriptedUpstream,
    answer,
    first_event_only,
    in_process_router,
    openai_error,
)

from tollway_cli.servers import NatsServer
from tollway_common.contract import Endpoint, HealthState
from tollway_common.control import Deployment, ModelAlias, RoutingStrategy

STREAM = {"messages": [{"role": "user", "content": "hello"}], "stream": True}


def _openai(name: str, **fields: Any) -> Deployment:
    return Deployment.model_validate(
        {"name": name, "provider": "openai", "model": f"gpt-{name}", **fields}
    )


MODELS = [
    ModelAlias(
        name="demo",
        deployments=[Deployment.model_validate({"name": "demo", "provider": "fake", "model": "d"})],
    ),
    ModelAlias(
        name="pair",
        strategy=RoutingStrategy.PRIORITY,
        deployments=[_openai("east"), _openai("west", priority=1)],
    ),
    ModelAlias(
        name="chain",
        fallbacks=["big"],
        context_window_fallbacks=["wide"],
        content_policy_fallbacks=["lenient"],
        deployments=[_openai("small")],
    ),
    ModelAlias(name="big", deployments=[_openai("large")]),
    ModelAlias(name="wide", deployments=[_openai("wide-window")]),
    ModelAlias(name="lenient", deployments=[_openai("lenient-filter")]),
    ModelAlias(
        name="claude",
        deployments=[
            Deployment.model_validate({"name": "claude", "provider": "anthropic", "model": "c"})
        ],
    ),
]


def _router(nats_server: NatsServer, **scripts: list[Scripted]) -> Any:
    return in_process_router(nats_server, MODELS, ScriptedUpstream(scripts))


@pytest.fixture
async def demo_router(nats_server: NatsServer) -> AsyncIterator[InProcessRouter]:
    async with _router(nats_server) as router:
        yield router


async def test_a_stream_goes_out_as_numbered_chunks_then_the_final_and_one_usage_event(
    demo_router: InProcessRouter,
) -> None:
    served = await demo_router.serve("demo", STREAM)
    assert served.error is None
    assert served.final is not None
    assert (served.final.deployment, served.final.provider) == ("demo", "fake")
    assert served.final.served_model == "demo"
    assert served.seqs == list(range(len(served.chunks) + 1))
    assert served.text
    assert served.usage.attempts == ["demo:ok"]
    assert (served.usage.provider, served.usage.status_code) == ("fake", 200)
    assert not served.usage.usage_estimated


async def test_the_usage_chunk_reaches_only_a_client_that_asked_for_it(
    demo_router: InProcessRouter,
) -> None:
    plain = await demo_router.serve("demo", STREAM)
    asked = await demo_router.serve(
        "demo", {**STREAM, "stream_options": {"include_usage": True}}, include_usage=True
    )
    assert len(asked.chunks) == len(plain.chunks) + 1
    assert plain.usage.prompt_tokens == asked.usage.prompt_tokens > 0


async def test_a_non_stream_answer_is_one_chunk_then_the_final(
    demo_router: InProcessRouter,
) -> None:
    served = await demo_router.serve("demo")
    assert len(served.chunks) == 1
    assert served.final is not None
    assert served.text
    assert served.usage.ttft_ms is not None


async def test_a_429_moves_the_request_to_the_next_deployment_and_sets_the_first_aside(
    nats_server: NatsServer,
) -> None:
    async with _router(nats_server, east=[openai_error(429)], west=[answer()]) as router:
        served = await router.serve("pair", STREAM)
        assert served.error is None
        assert served.final is not None
        assert served.final.deployment == "west"
        assert router.upstream.called == ["east", "west"]
        assert served.usage.attempts == ["east:upstream_rate_limited", "west:ok"]
        assert served.usage.retries == 1
        pair, east = MODELS[1], MODELS[1].deployments[0]
        found = router.handler.health.check(pair, east, "")
        assert (found.usable, found.state) == (False, HealthState.RATE_LIMITED)


async def test_a_server_error_before_the_first_chunk_is_served_whole_by_another(
    nats_server: NatsServer,
) -> None:
    async with _router(nats_server, east=[openai_error(500)], west=[answer()]) as router:
        served = await router.serve("pair", STREAM)
        assert served.final is not None
        assert served.final.deployment == "west"
        assert served.usage.attempts == ["east:upstream_error", "west:ok"]


async def test_a_stream_broken_after_its_first_chunk_ends_with_an_error_never_spliced(
    nats_server: NatsServer,
) -> None:
    async with _router(nats_server, east=[first_event_only()], west=[answer()]) as router:
        served = await router.serve("pair", STREAM)
        assert len(served.chunks) == 1
        assert served.final is None
        assert served.error is not None
        assert served.error.status == 502
        assert router.upstream.called == ["east"]
        assert served.usage.attempts == ["east:upstream_error"]
        assert served.usage.status_code == 502


async def test_chunks_read_together_with_an_error_event_still_reach_the_client_first(
    nats_server: NatsServer,
) -> None:
    """One upstream read holds a chunk and then an error event: the chunk is on its way
    before the error, so the request is not retried elsewhere (that would splice answers)."""
    chunk = first_event_only().stream[0]
    error = b'data: {"error": {"message": "overloaded", "type": "server_error"}}\n\n'
    east = [Scripted(stream=(chunk + error,))]
    async with _router(nats_server, east=east, west=[answer()]) as router:
        served = await router.serve("pair", STREAM)
        assert len(served.chunks) == 1
        assert served.error is not None
        assert served.final is None
        assert router.upstream.called == ["east"]
        assert served.seqs == [0, 1]


async def test_a_client_error_is_neither_retried_nor_sent_to_a_fallback(
    nats_server: NatsServer,
) -> None:
    async with _router(nats_server, small=[openai_error(400)]) as router:
        served = await router.serve("chain", STREAM)
        assert served.error is not None
        assert served.error.status == 400
        assert router.upstream.called == ["small"]
        assert served.usage.fallbacks == 0


async def test_the_fallback_alias_answers_once_the_retries_are_spent(
    nats_server: NatsServer,
) -> None:
    failures = [openai_error(500)] * 3
    async with _router(nats_server, small=failures, large=[answer()]) as router:
        served = await router.serve("chain", STREAM)
        assert served.final is not None
        assert (served.final.deployment, served.final.served_model) == ("large", "big")
        assert served.usage.attempts == [*["small:upstream_error"] * 3, "large:ok"]
        assert (served.usage.fallbacks, served.usage.served_model) == (1, "big")


@pytest.mark.parametrize(
    ("code", "alias", "deployment"),
    [
        ("context_length_exceeded", "wide", "wide-window"),
        ("content_filter", "lenient", "lenient-filter"),
    ],
    ids=["context_length", "content_filter"],
)
async def test_a_context_or_content_refusal_goes_to_its_own_fallback_list_without_a_retry(
    nats_server: NatsServer, code: str, alias: str, deployment: str
) -> None:
    scripts = {"small": [openai_error(400, code=code)], deployment: [answer()]}
    async with _router(nats_server, **scripts) as router:
        served = await router.serve("chain", STREAM)
        assert served.final is not None
        assert (served.final.deployment, served.final.served_model) == (deployment, alias)
        assert router.upstream.called == ["small", deployment]
        assert served.usage.fallbacks == 1


async def test_an_endpoint_the_provider_does_not_serve_is_a_400_without_an_upstream_call(
    demo_router: InProcessRouter,
) -> None:
    served = await demo_router.serve("claude", {"input": "hi"}, endpoint=Endpoint.EMBEDDINGS)
    assert served.error is not None
    assert (served.error.status, served.error.error.code) == (400, "unsupported_endpoint")
    assert "provider 'anthropic'" in served.error.error.message
    assert demo_router.upstream.calls == []


async def test_an_unknown_alias_is_a_404(demo_router: InProcessRouter) -> None:
    served = await demo_router.serve("ghost", STREAM)
    assert served.error is not None
    assert (served.error.status, served.error.error.code) == (404, "model_not_found")


async def test_a_cancelled_request_still_meters_its_attempt_as_cancelled(
    nats_server: NatsServer,
) -> None:
    hanging = Scripted(stream=first_event_only().stream, hang=True)
    async with _router(nats_server, east=[hanging]) as router:
        usage = await router.cancel_once_upstream_opened("pair", STREAM)
        assert (usage.status_code, usage.error_type) == (499, "cancelled")
        assert usage.attempts == ["east:cancelled"]
        assert usage.deployment == "east"
