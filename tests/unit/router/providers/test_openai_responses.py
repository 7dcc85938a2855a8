"""The Responses API on OpenAI and Azure OpenAI deployments: the body goes upstream with the
deployment's model, `store: false` and no `previous_response_id`; replies and stream events come
back as they were, read for usage and errors."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from tests.support import fake_responses
from tests.support.openai_schema import validate_openai_request

from tollway_common import errors
from tollway_common.contract import (
    Endpoint,
    InferRequest,
    Principal,
    RequestFacts,
    ResolvedRoute,
    Usage,
)
from tollway_common.control import Deployment
from tollway_common.providers import FACTS, Provider
from tollway_router.dialects.messages_adapter import adapter_for
from tollway_router.providers.adapter import SseEvent
from tollway_router.providers.openai import responses
from tollway_router.upstream.sse_decoder import SseDecoder

OPENAI = Deployment(name="d", provider="openai", model="gpt-4.1")
AZURE = Deployment(name="az", provider="azure_openai", model="gpt-4.1", azure_deployment="my-41")
BODY: dict[str, Any] = {
    "model": "alias",
    "input": [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": "gAAA"},
    ],
    "previous_response_id": "resp_abc",
    "store": True,
    "stream": True,
}


def _infer_for(body: dict[str, Any]) -> InferRequest:
    return InferRequest(
        request_id="req-1",
        endpoint=Endpoint.RESPONSES,
        principal=Principal(key_id="k1"),
        route=ResolvedRoute(alias="alias"),
        received_at_ms=0,
        deadline_ms=0,
        body=body,
    )


@pytest.mark.parametrize("target", [OPENAI, AZURE], ids=["openai", "azure_openai"])
def test_openai_and_azure_serve_responses_natively(target: Deployment) -> None:
    assert Endpoint.RESPONSES in FACTS[target.provider].endpoints
    adapter = adapter_for(target, _infer_for(BODY))
    assert adapter is (responses.ADAPTER if target is OPENAI else responses.AZURE_ADAPTER)


def test_the_body_goes_upstream_without_the_state_tollway_keeps() -> None:
    call = responses.build_request(Endpoint.RESPONSES, BODY, RequestFacts(), OPENAI)
    sent = orjson.loads(call.body)
    assert (call.method, call.path, call.stream) == ("POST", "/responses", True)
    assert sent == {
        "model": "gpt-4.1",
        "input": [BODY["input"][0], BODY["input"][2]],
        "store": False,
        "stream": True,
    }
    validate_openai_request(Endpoint.RESPONSES, sent)


def test_azure_takes_responses_on_its_v1_path_with_the_deployment_as_model() -> None:
    call = responses.AZURE_ADAPTER.build_request(Endpoint.RESPONSES, BODY, RequestFacts(), AZURE)
    assert (call.path, dict(call.query)) == ("/openai/v1/responses", {})
    assert orjson.loads(call.body)["model"] == "my-41"
    assert responses.AZURE_ADAPTER.auth_header("k") == ("api-key", "k")


def test_a_whole_response_is_read_for_usage_and_passed_on_as_it_came() -> None:
    raw = orjson.dumps(fake_responses.response({"model": "gpt-4.1", "input": "a b c"}, 1))
    parsed = responses.parse_response(Endpoint.RESPONSES, raw, OPENAI)
    assert parsed.body == raw
    words = len(f"{fake_responses.GREETING} a b c".split())
    assert parsed.usage == Usage(prompt_tokens=3, completion_tokens=words, total_tokens=3 + words)
    assert parsed.upstream_model == "gpt-4.1"


def test_usage_details_are_read() -> None:
    usage = responses.parse_usage(
        {
            "input_tokens": 10,
            "output_tokens": 5,
            "total_tokens": 15,
            "input_tokens_details": {"cached_tokens": 4},
            "output_tokens_details": {"reasoning_tokens": 2},
        }
    )
    assert usage == Usage(
        prompt_tokens=10,
        completion_tokens=5,
        total_tokens=15,
        cached_read_tokens=4,
        reasoning_tokens=2,
    )


def test_a_stream_is_relayed_frame_for_frame_and_ends_with_usage() -> None:
    body = {"model": "gpt-4.1", "input": "a b", "stream": True}
    frames = fake_responses.sse(fake_responses.events(body, 1))
    decoder, state = SseDecoder(), responses.new_stream_state()
    chunks = [
        chunk
        for event in decoder.feed(b"".join(frames))
        for chunk in responses.parse_stream_event(event, state)
    ]
    assert [chunk.data for chunk in chunks] == frames
    assert responses.ADAPTER.stream_complete(state)
    assert [chunk.usage is not None for chunk in chunks] == [False] * (len(frames) - 1) + [True]
    assert sum(chunk.output_chars for chunk in chunks) > 0


def test_a_stream_that_stops_short_is_not_complete() -> None:
    body = {"model": "gpt-4.1", "input": "a b", "stream": True}
    state = responses.new_stream_state()
    for event in SseDecoder().feed(
        b"".join(fake_responses.sse(fake_responses.events(body, 1))[:3])
    ):
        responses.parse_stream_event(event, state)
    assert not responses.ADAPTER.stream_complete(state)


def test_an_error_event_mid_stream_is_an_upstream_error() -> None:
    data = orjson.dumps(
        {"type": "error", "code": "rate_limit_exceeded", "message": "slow down", "param": None}
    ).decode()
    with pytest.raises(errors.TollwayError) as raised:
        responses.parse_stream_event(
            SseEvent(data=data, event="error"), responses.new_stream_state()
        )
    assert raised.value.status == 429
    assert raised.value.message.endswith("slow down")


def test_a_deployment_that_serves_only_chat_is_translated_for_responses() -> None:
    assert FACTS[Provider.FAKE].translates(Endpoint.RESPONSES)
    assert FACTS[Provider.ANTHROPIC].translates(Endpoint.RESPONSES)
