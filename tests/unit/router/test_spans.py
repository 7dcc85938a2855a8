"""The upstream call's span attributes come from the request's facts, not from its body."""

from __future__ import annotations

from tollway_common.contract import Endpoint, RequestFacts
from tollway_common.control import Deployment
from tollway_router.spans import OPERATION, request_attributes

TARGET = Deployment(name="d", provider="openai", model="gpt-4o-mini")
BODY = {"model": "m", "messages": [], "max_tokens": 5, "temperature": 0.5}


def test_the_requested_max_tokens_is_the_bound_the_edge_decided() -> None:
    attributes = request_attributes(
        Endpoint.CHAT_COMPLETIONS, BODY, RequestFacts(max_tokens=300), TARGET
    )
    assert attributes["gen_ai.request.max_tokens"] == 300
    assert attributes["gen_ai.request.temperature"] == 0.5


def test_no_bound_means_no_max_tokens_attribute() -> None:
    attributes = request_attributes(Endpoint.CHAT_COMPLETIONS, BODY, RequestFacts(), TARGET)
    assert "gen_ai.request.max_tokens" not in attributes


def test_every_endpoint_names_its_operation() -> None:
    """A missing one is a KeyError on every such request once tracing is on."""
    assert set(OPERATION) == set(Endpoint)
