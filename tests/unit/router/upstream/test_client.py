"""The upstream client picks a deployment's transport from its provider's facts; the transports
that need no network are exercised here (sockets are off in unit tests)."""

from __future__ import annotations

import orjson
import pytest

from tollway_common.contract import Endpoint, RequestFacts
from tollway_common.control import Deployment
from tollway_common.errors import UpstreamUnavailable
from tollway_common.providers import FACTS, Provider, Transport
from tollway_router.providers import REGISTRY
from tollway_router.upstream.client import Upstream
from tollway_router.upstream.sse_decoder import SseDecoder

CHAT = {"model": "m", "messages": [{"role": "user", "content": "Hello"}]}


def _deployment(provider: str, **fields: object) -> Deployment:
    return Deployment.model_validate({"name": "d", "provider": provider, "model": "m", **fields})


def _in_process() -> list[Provider]:
    return [p for p in Provider if FACTS[p].transport is Transport.IN_PROCESS]


@pytest.mark.parametrize("provider", _in_process())
async def test_an_in_process_provider_streams_without_the_network(provider: Provider) -> None:
    deployment = _deployment(provider)
    adapter = REGISTRY[provider]
    call = adapter.build_request(
        Endpoint.CHAT_COMPLETIONS, {**CHAT, "stream": True}, RequestFacts(), deployment
    )
    upstream = Upstream(connect_timeout_s=1.0, max_connections=1)
    decoder, state = SseDecoder(), adapter.new_stream_state()
    async with upstream.open(deployment, call, None) as response:
        assert response.status == 200
        chunks = [
            chunk
            async for data in response.chunks()
            for event in decoder.feed(data)
            for chunk in adapter.parse_stream_event(event, state)
        ]
    await upstream.close()
    assert adapter.stream_complete(state)
    assert sum(chunk.output_chars for chunk in chunks) > 0


@pytest.mark.parametrize("provider", _in_process())
async def test_an_in_process_provider_answers_a_whole_body(provider: Provider) -> None:
    deployment = _deployment(provider)
    call = REGISTRY[provider].build_request(
        Endpoint.EMBEDDINGS, {"input": "hi"}, RequestFacts(), deployment
    )
    upstream = Upstream(connect_timeout_s=1.0, max_connections=1)
    async with upstream.open(deployment, call, None) as response:
        body = orjson.loads(await response.read())
    await upstream.close()
    assert body["object"] == "list"


@pytest.mark.parametrize("provider", [p for p in Provider if FACTS[p].transport is Transport.HTTP])
async def test_an_http_deployment_without_api_base_is_refused_before_any_call(
    provider: Provider,
) -> None:
    deployment = _deployment(provider)
    call = REGISTRY[provider].build_request(
        Endpoint.CHAT_COMPLETIONS, CHAT, RequestFacts(), deployment
    )
    upstream = Upstream(connect_timeout_s=1.0, max_connections=1)
    with pytest.raises(UpstreamUnavailable, match="has no api_base configured"):
        async with upstream.open(deployment, call, None):
            pass
    await upstream.close()
