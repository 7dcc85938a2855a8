"""Properties of the Responses-over-chat translation, drawn by hypothesis:

- any CreateResponse body OpenAI's spec allows gives a chat request OpenAI's spec accepts, or
  a client error (InvalidRequest, a 400) naming a field; never anything else, so never a 5xx;
- however a chat stream cuts the same answer into chunks, the streamed Response is the one the
  same answer gives unstreamed (ids and clocks aside).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support.openai_schema import _SPEC as OPENAI_SPEC
from tests.support.responses_over_chat import FAKE, chat_request, events_of, replay
from tests.support.schema_strategies import SchemaStrategies

from tollway_common.contract import Usage
from tollway_common.errors import InvalidRequest
from tollway_router.dialects.responses_response import Asked, to_response

SPEC = OPENAI_SPEC.registry().contents(OPENAI_SPEC.uri)
SCHEMAS = SPEC["components"]["schemas"]


def _properties(schema: dict[str, Any]) -> dict[str, Any]:
    """A schema's properties, those of the schemas it is made of (`allOf`) included."""
    if "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[1]]
    found: dict[str, Any] = {}
    for part in schema.get("allOf", []):
        found |= _properties(part)
    return found | dict(schema.get("properties", {}))


# CreateResponse flattened into one object that always has an `input` (the spec's nests its
# parts two `allOf`s deep, and a body without input has nothing to translate).
FLAT = {
    "components": {
        "schemas": {
            **SCHEMAS,
            "FlatCreateResponse": {
                "type": "object",
                "properties": _properties(SCHEMAS["CreateResponse"]),
                "required": ["model", "input"],
            },
        }
    }
}
PROPERTY = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ASKED: dict[str, Any] = {"model": "m", "input": "hi", "stream": True, "tools": []}
_IDS = ("id", "created_at", "completed_at")


def _translated(body: dict[str, Any]) -> dict[str, Any] | InvalidRequest:
    """The chat request (checked against OpenAI's spec), or the client error it earned."""
    try:
        return chat_request(FAKE, body)
    except InvalidRequest as refused:
        return refused


@PROPERTY
@given(body=SchemaStrategies(FLAT, max_depth=4).named("FlatCreateResponse"))
def test_any_request_the_spec_allows_translates_or_is_refused_as_a_client_error(
    body: dict[str, Any],
) -> None:
    outcome = _translated(body)
    if isinstance(outcome, InvalidRequest):
        assert outcome.status == 400
        assert outcome.param


def _pieces(text: str) -> st.SearchStrategy[list[str]]:
    """`text` cut at any points into pieces (none empty)."""
    cuts = st.lists(st.integers(1, max(1, len(text) - 1)), max_size=4, unique=True)
    return cuts.map(
        lambda points: [
            text[a:b]
            for a, b in zip([0, *sorted(points)], [*sorted(points), len(text)], strict=True)
            if text[a:b]
        ]
    )


@st.composite
def _answers(draw: st.DrawFn) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A chat answer (its completion message and finish reason) and a stream of its deltas."""
    text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)
    reasoning, content = draw(text), draw(text)
    calls = draw(
        st.lists(
            st.tuples(st.sampled_from(["f", "g"]), st.dictionaries(st.sampled_from("abc"), text)),
            max_size=3,
        )
    )
    finish = draw(st.sampled_from(["stop", "length", "tool_calls", "content_filter"]))
    deltas: list[dict[str, Any]] = [{"reasoning_content": p} for p in draw(_pieces(reasoning))]
    deltas += [{"content": piece} for piece in draw(_pieces(content))]
    tool_calls = []
    for index, (name, arguments) in enumerate(calls):
        spelled = orjson.dumps(arguments).decode()
        call_id = f"call_{index}"
        tool_calls.append(
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": spelled}}
        )
        first, *rest = draw(_pieces(spelled))
        head = {"id": call_id, "type": "function", "function": {"name": name, "arguments": first}}
        deltas.append({"tool_calls": [{"index": index, **head}]})
        deltas += [
            {"tool_calls": [{"index": index, "function": {"arguments": piece}}]} for piece in rest
        ]
    message: dict[str, Any] = {"content": content or None, "reasoning_content": reasoning}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {"message": message, "finish_reason": finish}, deltas


def _sse(deltas: list[dict[str, Any]], finish: str) -> bytes:
    frames: list[dict[str, Any]] = [{"choices": [{"index": 0, "delta": d}]} for d in deltas]
    frames.append({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    frames.append({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}})
    base = {"id": "chatcmpl-p", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    body = b"".join(b"data: " + orjson.dumps({**base, **frame}) + b"\n\n" for frame in frames)
    return body + b"data: [DONE]\n\n"


def _comparable(response: dict[str, Any]) -> dict[str, Any]:
    out = {name: value for name, value in response.items() if name not in _IDS}
    out["output"] = [{k: v for k, v in item.items() if k != "id"} for item in response["output"]]
    return out


@PROPERTY
@given(answer=_answers())
def test_any_chunking_of_an_answer_streams_the_response_it_gives_unstreamed(
    answer: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    choice, deltas = answer
    chunks = replay(FAKE, ASKED, _sse(deltas, choice["finish_reason"]))
    streamed = events_of(chunks)[-1][1]["response"]
    usage = Usage(prompt_tokens=3, completion_tokens=4, total_tokens=7)
    unstreamed = to_response({"choices": [choice]}, usage, Asked.of(ASKED), "d1")
    assert _comparable(streamed) == _comparable(unstreamed)


@pytest.mark.parametrize("finish", ["stop", "length"])
def test_the_property_compares_something(finish: str) -> None:
    """A known answer, so the property above is seen to compare whole Responses."""
    deltas = [{"content": "He"}, {"content": "llo"}]
    chunks = replay(FAKE, ASKED, _sse(deltas, finish))
    streamed = _comparable(events_of(chunks)[-1][1]["response"])
    assert streamed["output"][0]["content"][0]["text"] == "Hello"
    assert streamed["status"] == ("completed" if finish == "stop" else "incomplete")
