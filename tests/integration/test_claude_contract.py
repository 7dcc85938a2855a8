"""Every translated request goes through the locked anthropic SDK's own method
(`AsyncAnthropic.messages.create`, by the router's `AnthropicUpstream.send`) to a fake speaking
the wire, and what arrived is checked against the SDK's own request types
(`MessageCreateParams`), the published spec, and the fields the API takes: a field the SDK does
not name may only be one the API still accepts for that model (it rode in `extra_body`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.support.claude_requests import (
    CASES,
    ENDPOINTS,
    REFUSED,
    Case,
    body_of,
    check_against_the_sdk,
)
from tests.support.fake_anthropic_server import FakeAnthropicServer

from tollway_common.control import Deployment
from tollway_edge.request_facts import read_facts
from tollway_router.credentials.resolve import Credential
from tollway_router.providers.anthropic import ADAPTER
from tollway_router.upstream.anthropic_sdk import AnthropicUpstream


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAnthropicServer]:
    with FakeAnthropicServer() as server:
        yield server


async def _send(fake: FakeAnthropicServer, case: Case) -> dict[str, Any]:
    endpoint = ENDPOINTS[case.endpoint]
    body = body_of(case)
    deployment = Deployment(
        name="claude", provider="anthropic", model=case.model, api_base=fake.base_url
    )
    call = ADAPTER.build_request(endpoint, body, read_facts(endpoint, body), deployment)
    before = len(fake.requests)
    upstream = AnthropicUpstream()
    try:
        response = await upstream.send(deployment, call, Credential("api_key", "sk-ant-test"))
        assert response.status == 200, await response.read()
        if call.stream:
            assert [frame async for frame in response.chunks()]
    finally:
        await upstream.close()
    assert fake.schema_errors == []
    [(_, received)] = fake.requests[before:]
    return received


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, id=f"{case.endpoint}-{case.name}-{case.outcome}-{case.model}-{i}")
        for i, case in enumerate(CASES)
        if case.outcome != REFUSED and not case.foundry
    ],
)
@pytest.mark.proves("claude_sdk_contract", "anthropic")
@pytest.mark.proves("anthropic_sdk", "anthropic")
# The SDK warns about retired models by name; the rows for them are still tested.
@pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")
async def test_every_translated_request_passes_the_locked_sdk_and_its_types(
    fake: FakeAnthropicServer, case: Case
) -> None:
    received = await _send(fake, case)
    check_against_the_sdk(received, case.model)
    assert {key: received.get(key) for key in case.expected} == case.expected


@pytest.mark.proves("claude_sdk_contract", "anthropic")
def test_the_check_finds_a_field_the_sdk_lacks() -> None:
    body = {"model": "claude-opus-4-7", "max_tokens": 5, "messages": [], "temperature": 0.2}
    with pytest.raises(AssertionError, match="temperature"):
        check_against_the_sdk(body, "claude-opus-4-7")
    check_against_the_sdk(body, "claude-sonnet-4-5")
    with pytest.raises(Exception, match="text"):
        check_against_the_sdk(
            {**body, "messages": [{"role": "user", "content": [{"type": "txt"}]}]},
            "claude-sonnet-4-5",
        )
