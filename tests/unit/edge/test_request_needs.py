"""What a request's content needs of the model, read once at the edge (`request_needs.py`) and
carried in `RequestFacts.needs`, in each dialect's own spelling."""

from __future__ import annotations

from typing import Any

import pytest

from tollway_common.contract import Capability, Endpoint
from tollway_edge.request_facts import read_facts

VISION, TOOLS, THINKING, SCHEMA = (
    Capability.VISION,
    Capability.TOOLS,
    Capability.THINKING,
    Capability.STRUCTURED_OUTPUTS,
)
IMAGE_URL = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
SCHEMA_FORMAT = {"type": "json_schema", "json_schema": {"name": "a", "schema": {}}}
SCHEMA_TEXT = {"type": "json_schema", "name": "a", "schema": {}}
PNG = {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}


def _chat(**fields: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (_chat(), ()),
        (_chat(messages=[{"role": "user", "content": [{"type": "text", "text": "x"}]}]), ()),
        (_chat(messages=[{"role": "user", "content": [IMAGE_URL]}]), (VISION,)),
        (_chat(tools=[TOOL]), (TOOLS,)),
        (_chat(tools=[]), ()),
        (_chat(functions=[{"name": "f"}]), (TOOLS,)),
        (_chat(response_format=SCHEMA_FORMAT), (SCHEMA,)),
        (_chat(response_format={"type": "json_object"}), ()),
        (_chat(reasoning_effort="low"), (THINKING,)),
        (_chat(reasoning_effort="none"), ()),
        (
            _chat(
                messages=[{"role": "user", "content": [IMAGE_URL]}],
                tools=[TOOL],
                response_format=SCHEMA_FORMAT,
                reasoning_effort="high",
            ),
            (VISION, TOOLS, THINKING, SCHEMA),
        ),
    ],
)
def test_chat_needs(body: dict[str, Any], expected: tuple[Capability, ...]) -> None:
    assert read_facts(Endpoint.CHAT_COMPLETIONS, body).needs == expected


def _messages(*blocks: dict[str, Any], **fields: Any) -> dict[str, Any]:
    content = list(blocks) or [{"type": "text", "text": "hi"}]
    return {"model": "m", "max_tokens": 64, "messages": [{"role": "user", "content": content}]} | (
        fields
    )


@pytest.mark.parametrize("endpoint", [Endpoint.MESSAGES, Endpoint.MESSAGES_COUNT_TOKENS])
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (_messages(), ()),
        (_messages({"type": "image", "source": PNG}), (VISION,)),
        (
            _messages(
                {
                    "type": "tool_result",
                    "tool_use_id": "t",
                    "content": [{"type": "image", "source": PNG}],
                }
            ),
            (VISION,),
        ),
        (_messages(tools=[{"name": "f", "input_schema": {"type": "object"}}]), (TOOLS,)),
        (_messages(thinking={"type": "enabled", "budget_tokens": 1024}), (THINKING,)),
        (_messages(thinking={"type": "adaptive"}), (THINKING,)),
        (_messages(thinking={"type": "disabled"}), ()),
        (_messages(output_config={"format": {"type": "json_schema", "schema": {}}}), (SCHEMA,)),
        (_messages(output_config={"effort": "low"}), ()),
    ],
)
def test_messages_needs(
    endpoint: Endpoint, body: dict[str, Any], expected: tuple[Capability, ...]
) -> None:
    assert read_facts(endpoint, body).needs == expected


def _responses(**fields: Any) -> dict[str, Any]:
    return {"model": "m", "input": "hi"} | fields


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (_responses(), ()),
        (
            _responses(
                input=[
                    {
                        "role": "user",
                        "content": [
                            {"type": "input_text", "text": "what is this?"},
                            {"type": "input_image", "image_url": "https://example.com/a.png"},
                        ],
                    }
                ]
            ),
            (VISION,),
        ),
        (_responses(tools=[{"type": "function", "name": "f", "parameters": {}}]), (TOOLS,)),
        (_responses(reasoning={"effort": "medium"}), (THINKING,)),
        (_responses(reasoning={"effort": None}), ()),
        (_responses(text={"format": SCHEMA_TEXT}), (SCHEMA,)),
        (_responses(text={"format": {"type": "text"}}), ()),
    ],
)
def test_responses_needs(body: dict[str, Any], expected: tuple[Capability, ...]) -> None:
    assert read_facts(Endpoint.RESPONSES, body).needs == expected


def test_endpoints_without_such_content_need_nothing() -> None:
    assert read_facts(Endpoint.EMBEDDINGS, {"model": "m", "input": "hi", "tools": [1]}).needs == ()
    assert read_facts(Endpoint.COMPLETIONS, {"model": "m", "prompt": "hi"}).needs == ()
