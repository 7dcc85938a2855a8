"""Every translated request goes through the locked anthropic SDK's own method
(`AsyncAnthropic.messages.create`, by the router's `AnthropicUpstream.send`) to a fake speaking
the wire, and what arrived is checked against the SDK's own request types
(`MessageCreateParams`), the published spec, and the fields the API takes: a field the SDK does
not name may only be one the API still accepts for that model (it rode in `extra_body`)."""

from __future__ import annotations

import typing
from collections.abc import Iterator
from typing import Any

import pytest
from anthropic.types.message_create_params import (
    MessageCreateParamsNonStreaming,
    MessageCreateParamsStreaming,
)
from pydantic import TypeAdapter
from tests.support.anthropic_schema import _SPEC as ANTHROPIC_SPEC
from tests.support.anthropic_schema import REQUEST_SCHEMA
from tests.support.claude_requests import CASES, ENDPOINTS, REFUSED, Case, body_of
from tests.support.fake_anthropic_server import FakeAnthropicServer

from tollway_common.control import Deployment
from tollway_edge.request_facts import read_facts
from tollway_router.credentials.resolve import Credential
from tollway_router.providers.anthropic import ADAPTER
from tollway_router.providers.anthropic.capabilities import Sampling, capabilities
from tollway_router.upstream.anthropic_sdk import AnthropicUpstream

SDK_FIELDS = frozenset(typing.get_type_hints(MessageCreateParamsStreaming))
# What the API takes that the locked SDK no longer names: sent in `extra_body`, per model.
SAMPLING_FIELDS = frozenset({"temperature", "top_p"})
_STREAMING = TypeAdapter(MessageCreateParamsStreaming)
_NOT_STREAMING = TypeAdapter(MessageCreateParamsNonStreaming)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAnthropicServer]:
    with FakeAnthropicServer() as server:
        yield server


def _deep(value: Any) -> Any:
    """The SDK types use `Iterable[...]`, which pydantic checks lazily, item by item as it is
    read: reading every level makes it check all of them."""
    if isinstance(value, dict):
        return {key: _deep(item) for key, item in value.items()}
    if isinstance(value, str | bytes | int | float | bool) or value is None:
        return value
    if isinstance(value, list) or hasattr(value, "__next__") or hasattr(value, "__iter__"):
        return [_deep(item) for item in value]
    return value


def _check_against_the_sdk(body: dict[str, Any], model: str) -> None:
    adapter = _STREAMING if body.get("stream") else _NOT_STREAMING
    _deep(adapter.validate_python(body))
    allowed = set(SDK_FIELDS)
    if capabilities(model).sampling is not Sampling.NONE:
        allowed |= SAMPLING_FIELDS
    assert set(body) <= allowed, f"fields the SDK and the API lack: {set(body) - allowed}"
    api_fields = ANTHROPIC_SPEC.registry().contents(ANTHROPIC_SPEC.uri)["components"]["schemas"][
        REQUEST_SCHEMA
    ]["properties"]
    assert set(body) - SDK_FIELDS <= set(api_fields)


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
    _check_against_the_sdk(received, case.model)
    assert {key: received.get(key) for key in case.expected} == case.expected


@pytest.mark.proves("claude_sdk_contract", "anthropic")
def test_the_check_finds_a_field_the_sdk_lacks() -> None:
    body = {"model": "claude-opus-4-7", "max_tokens": 5, "messages": [], "temperature": 0.2}
    with pytest.raises(AssertionError, match="temperature"):
        _check_against_the_sdk(body, "claude-opus-4-7")
    _check_against_the_sdk(body, "claude-sonnet-4-5")
    with pytest.raises(Exception, match="text"):
        _check_against_the_sdk(
            {**body, "messages": [{"role": "user", "content": [{"type": "txt"}]}]},
            "claude-sonnet-4-5",
        )
