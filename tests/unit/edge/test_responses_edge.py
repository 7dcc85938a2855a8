"""OpenAI Responses bodies at the edge: the head check (size, type and what Tollway refuses), the
facts limits and policies act on (`max_output_tokens`, the prompt estimate from `input` and
`instructions`), and the stream dialect (frames relayed verbatim, no `[DONE]`, errors after the
first byte as the SDK's `ResponseErrorEvent`)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from openai.types.responses import ResponseErrorEvent

from tollway_common import errors
from tollway_common.contract import Endpoint, Principal, RequestFacts
from tollway_common.control import Policy
from tollway_common.errors import InvalidRequest
from tollway_edge import dialects
from tollway_edge.admission import admit
from tollway_edge.auth import Caller
from tollway_edge.body import parse_body
from tollway_edge.errors import failure_event
from tollway_edge.policy import Level
from tollway_edge.request_facts import read_facts, upstream_body
from tollway_edge.routes import responses as store_routes

RESPONSES = dialects.for_endpoint(Endpoint.RESPONSES)


def _parse(body: dict[str, Any]) -> dict[str, Any]:
    parsed, _ = parse_body(orjson.dumps(body), Endpoint.RESPONSES)
    return parsed


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"model": ""}, "model"),
        ({"stream": "yes"}, "stream"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"max_output_tokens": "100"}, "max_output_tokens"),
        ({"input": 42}, "input"),
        ({"previous_response_id": "chatcmpl-1"}, "previous_response_id"),
        ({"previous_response_id": "resp_" + "a" * 129}, "previous_response_id"),
        ({"store": "no"}, "store"),
        ({"background": True}, "background"),
    ],
)
def test_a_bad_responses_body_is_a_400_naming_the_field(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        _parse({"model": "gpt", "input": "Hi", **fields})
    assert refused.value.param == param


def test_background_responses_are_refused_by_name() -> None:
    with pytest.raises(InvalidRequest) as refused:
        _parse({"model": "gpt", "input": "Hi", "background": True})
    assert refused.value.message.startswith("background responses are not supported")


def test_a_good_responses_body_passes_as_it_came() -> None:
    body = {
        "model": "gpt",
        "input": [{"role": "user", "content": "Hi"}],
        "previous_response_id": "resp_abc-1_2",
        "store": False,
        "background": False,
        "stream": True,
        "tools": [{"type": "function", "name": "f", "parameters": {}}],
    }
    assert _parse(body) == body


def test_the_prompt_estimate_counts_input_text_and_instructions() -> None:
    body = {
        "model": "gpt",
        "instructions": "x" * 40,
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "y" * 40}]},
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "z" * 40},
            {"type": "function_call_output", "call_id": "c", "output": "w" * 40},
        ],
        "max_output_tokens": 64,
    }
    assert read_facts(Endpoint.RESPONSES, body) == RequestFacts(max_tokens=64, prompt_tokens=40)
    assert read_facts(Endpoint.RESPONSES, {"model": "gpt", "input": "q" * 8}).prompt_tokens == 2


def test_a_policy_cap_bounds_max_output_tokens_and_fills_it_in_when_absent() -> None:
    caller = Caller(
        principal=Principal(key_id="k"),
        levels=(Level("key 'k'", Policy(max_tokens_cap=500)),),
    )
    body = {"model": "gpt", "input": "Hi"}
    asked = read_facts(Endpoint.RESPONSES, body)
    decided = admit(caller, Endpoint.RESPONSES, "gpt", asked)
    assert upstream_body(body, Endpoint.RESPONSES, asked, decided)["max_output_tokens"] == 500
    over = {**body, "max_output_tokens": 900}
    with pytest.raises(InvalidRequest) as refused:
        admit(caller, Endpoint.RESPONSES, "gpt", read_facts(Endpoint.RESPONSES, over))
    assert refused.value.param == "max_output_tokens"


def test_a_responses_stream_relays_frames_verbatim_and_has_no_done_marker() -> None:
    frame = b'event: response.created\ndata: {"type":"response.created"}\n\n'
    assert RESPONSES.event(frame) == frame
    assert RESPONSES.done == b""


def test_an_error_after_the_first_byte_is_the_sdks_error_event() -> None:
    event = failure_event(errors.UpstreamOverloaded("busy"), RESPONSES, sent=7)
    head, data = event.split(b"\n", 1)
    assert head == b"event: error"
    parsed = ResponseErrorEvent.model_validate(orjson.loads(data.removeprefix(b"data: ")))
    assert parsed == ResponseErrorEvent(
        type="error",
        code="upstream_overloaded",
        message="busy",
        param=None,
        sequence_number=7,
    )
    assert event.endswith(b"\n\n")


def test_an_error_before_the_first_byte_is_an_openai_error_body() -> None:
    response = RESPONSES.error_response(
        400, errors.InvalidRequest("bad", param="input").body(), "req-1", {}
    )
    assert response.status_code == 400
    assert orjson.loads(bytes(response.body)) == {
        "error": {
            "message": "bad",
            "type": "invalid_request_error",
            "param": "input",
            "code": "invalid_value",
        }
    }


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("limit", "0"),
        ("limit", "101"),
        ("limit", "ten"),
        ("limit", "-1"),
        ("order", "newest"),
        ("after", "msg 1"),
        ("after", "x" * 161),
    ],
)
def test_bad_input_item_paging_is_a_400_naming_the_parameter(name: str, value: str) -> None:
    read = {
        "limit": store_routes._limit,
        "order": store_routes._order,
        "after": store_routes._after,
    }
    with pytest.raises(InvalidRequest) as refused:
        read[name](value)
    assert refused.value.param == name


def test_input_item_paging_defaults_as_openai_does() -> None:
    assert (store_routes._limit(None), store_routes._order(None), store_routes._after(None)) == (
        20,
        "desc",
        "",
    )
    assert (store_routes._limit("100"), store_routes._order("asc")) == (100, "asc")
