"""Property: any OpenAI chat request the edge lets through (drawn from OpenAI's published
CreateChatCompletionRequest, with a field now and then replaced by any JSON value) translates
for any Claude model to a body valid against Anthropic's spec and the locked SDK's
`MessageCreateParams`, or is refused with a client error; never anything else."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from tests.support.anthropic_schema import validate_anthropic_request
from tests.support.claude_requests import check_against_the_sdk
from tests.support.openai_schema import _SPEC as OPENAI_SPEC
from tests.support.schema_strategies import SchemaStrategies

from tollway_common.contract import Endpoint
from tollway_common.control import Deployment
from tollway_common.errors import InvalidRequest, TollwayError
from tollway_edge.body import parse_body
from tollway_edge.request_facts import read_facts
from tollway_router.providers.anthropic import ADAPTER
from tollway_router.providers.anthropic.capabilities import CAPABILITIES

MODELS = [
    "claude-3-5-haiku-20241022",
    "claude-3-7-sonnet-20250219",
    "claude-sonnet-4-20250514",
    "claude-opus-4-1",
    "claude-haiku-4-5",
    "claude-opus-4-5",
    "claude-opus-4-6",
    "claude-opus-4-7",
    "a-foundry-deployment",
]


def _flattened(schemas: dict[str, Any], name: str) -> dict[str, Any]:
    """`name`'s `allOf` parts, nested ones included, as one object schema (the strategies
    merge one level of `allOf` only, and the chat request nests two)."""
    schema = schemas[name]
    merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
    for part in [*schema.get("allOf", []), schema]:
        if "$ref" in part:
            part = _flattened(schemas, part["$ref"].rsplit("/", 1)[-1])
        merged["properties"].update(part.get("properties", {}))
        merged["required"] += part.get("required", [])
    return merged


_OPENAI_SCHEMAS = OPENAI_SPEC.registry().contents(OPENAI_SPEC.uri)["components"]["schemas"]
_CHAT_REQUEST = "TollwayFlatChatRequest"
_SPECS = SchemaStrategies(
    {
        "components": {
            "schemas": {
                **_OPENAI_SCHEMAS,
                _CHAT_REQUEST: _flattened(_OPENAI_SCHEMAS, "CreateChatCompletionRequest"),
            }
        }
    }
)
# Any small JSON value, for a field the client got wrong.
_ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(-2, 2) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=6), inner, max_size=2)
    ),
    max_leaves=6,
)


@st.composite
def chat_requests(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = draw(_SPECS.named(_CHAT_REQUEST))
    replace: bool = draw(st.booleans())
    if body and replace:
        body[draw(st.sampled_from(sorted(body)))] = draw(_ANY_JSON)
    return body


def _admitted(body: dict[str, Any]) -> dict[str, Any] | None:
    """The body as the router gets it, or None when the edge refuses it first."""
    try:
        # The JSON text a client sends: stdlib json writes integers of any size, as clients do.
        parsed, _ = parse_body(json.dumps(body).encode(), Endpoint.CHAT_COMPLETIONS)
    except InvalidRequest:
        return None
    return parsed


def test_the_models_cover_every_row_of_the_capability_table() -> None:
    from tollway_router.providers.anthropic.capabilities import capabilities

    rows = {found for _, found in CAPABILITIES}
    assert {capabilities(model) for model in MODELS} == rows


@pytest.mark.proves("claude_property", "anthropic")
@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(body=chat_requests(), model=st.sampled_from(MODELS))
def test_any_admitted_chat_request_translates_or_is_a_client_error(
    body: dict[str, Any], model: str
) -> None:
    admitted = _admitted(body)
    if admitted is None:
        event("refused at the edge")
        return
    target = Deployment(name="claude", provider="anthropic", model=model)
    facts = read_facts(Endpoint.CHAT_COMPLETIONS, admitted)
    try:
        call = ADAPTER.build_request(Endpoint.CHAT_COMPLETIONS, admitted, facts, target)
    except TollwayError as refused:
        status = refused.status
    else:
        status = 200
    assert 200 <= status < 500
    event(f"status {status}")
    if status != 200:
        return
    sent = orjson.loads(call.body)
    validate_anthropic_request(sent)
    check_against_the_sdk(sent, model)
