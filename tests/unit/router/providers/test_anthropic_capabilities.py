"""The per-model capability table, what it makes of `reasoning_effort` and `response_format`,
the schema subset native structured outputs take, and the table's copy in docs/providers.md."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import orjson
import pytest
from anthropic.types import ModelParam
from tests.support.anthropic_schema import (
    RESPONSE_SCHEMA,
    validate_anthropic,
    validate_anthropic_request,
)

from tollway_common import errors
from tollway_common.contract import Capability, Endpoint, RequestFacts
from tollway_common.control import Deployment
from tollway_router.providers.anthropic import request, response
from tollway_router.providers.anthropic.capabilities import (
    CAPABILITIES,
    CURRENT,
    Sampling,
    Thinking,
    capabilities,
)
from tollway_router.providers.anthropic.schema import strict_schema

DOC = Path(__file__).parents[4] / "docs" / "providers.md"
HELLO = {"role": "user", "content": "Hello"}


def _send(model: str, body: dict[str, Any], max_tokens: int | None = None) -> dict[str, Any]:
    target = Deployment(name="claude", provider="anthropic", model=model)
    call = request.build_request(
        Endpoint.CHAT_COMPLETIONS,
        {"model": "claude", "messages": [HELLO], **body},
        RequestFacts(max_tokens=max_tokens),
        target,
    )
    sent: dict[str, Any] = orjson.loads(call.body)
    validate_anthropic_request(sent)
    return sent


@pytest.mark.parametrize(
    ("model", "sampling", "thinking", "structured", "effort"),
    [
        ("claude-3-5-haiku-20241022", Sampling.BOTH, Thinking.NONE, False, False),
        ("claude-3-7-sonnet-20250219", Sampling.BOTH, Thinking.BUDGET, False, False),
        ("claude-sonnet-4-20250514", Sampling.BOTH, Thinking.BUDGET, False, False),
        ("claude-opus-4-1", Sampling.ONE, Thinking.BUDGET, False, False),
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", Sampling.ONE, Thinking.BUDGET, True, False),
        ("claude-haiku-4-5", Sampling.ONE, Thinking.BUDGET, True, False),
        ("claude-opus-4-5-20251101", Sampling.ONE, Thinking.BUDGET, True, True),
        ("claude-opus-4-6", Sampling.ONE, Thinking.ADAPTIVE, True, True),
        ("Claude-Sonnet-4-6", Sampling.ONE, Thinking.ADAPTIVE, True, True),
        ("claude-opus-4-7", Sampling.NONE, Thinking.ADAPTIVE, True, True),
        ("claude-mythos-preview", Sampling.NONE, Thinking.ADAPTIVE, True, True),
        ("my-foundry-deployment", Sampling.NONE, Thinking.ADAPTIVE, True, True),
    ],
)
@pytest.mark.proves("claude_capabilities", "anthropic")
def test_each_model_name_finds_its_row(
    model: str, sampling: Sampling, thinking: Thinking, structured: bool, effort: bool
) -> None:
    found = capabilities(model)
    assert (found.sampling, found.thinking, found.structured_outputs, bool(found.effort)) == (
        sampling,
        thinking,
        structured,
        effort,
    )


def _sdk_models() -> list[str]:
    literal = next(arg for arg in typing.get_args(ModelParam) if typing.get_args(arg))
    return list(typing.get_args(literal))


@pytest.mark.parametrize("model", _sdk_models())
@pytest.mark.proves("claude_capabilities", "anthropic")
def test_every_model_the_locked_sdk_names_gets_a_request_its_row_allows(model: str) -> None:
    body = {"temperature": 0.25, "top_p": 0.5, "reasoning_effort": "xhigh"}
    sent = _send(model, body, max_tokens=40000)
    found = capabilities(model)
    if found.sampling is Sampling.NONE:
        assert "temperature" not in sent
    if found.sampling is not Sampling.BOTH:
        assert "top_p" not in sent
    if found.thinking is Thinking.ADAPTIVE:
        assert sent["thinking"] == {"type": "adaptive"}
    assert sent.get("output_config", {}).get("effort") in (*found.effort, None)


@pytest.mark.parametrize(
    ("model", "effort", "expected"),
    [
        ("claude-opus-4-7", "xhigh", "xhigh"),
        ("claude-opus-4-6", "xhigh", "max"),
        ("claude-opus-4-5", "xhigh", "high"),
        ("claude-opus-4-7", "minimal", "low"),
        ("claude-opus-4-7", "medium", "medium"),
    ],
)
@pytest.mark.proves("reasoning", "anthropic")
def test_reasoning_effort_becomes_claudes_effort_level(
    model: str, effort: str, expected: str
) -> None:
    sent = _send(model, {"reasoning_effort": effort}, max_tokens=40000)
    assert sent["output_config"] == {"effort": expected}


@pytest.mark.proves("reasoning", "anthropic")
@pytest.mark.proves("max_tokens", "anthropic")
def test_adaptive_thinking_keeps_the_edges_bound_and_has_room_without_one() -> None:
    assert _send("claude-opus-4-7", {"reasoning_effort": "high"}, 2000)["max_tokens"] == 2000
    unbounded = _send("claude-opus-4-7", {"reasoning_effort": "high"})
    assert unbounded["max_tokens"] == 16384 + 4096


@pytest.mark.proves("reasoning", "anthropic")
@pytest.mark.proves("response_format", "anthropic")
def test_native_structured_output_combines_with_thinking() -> None:
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "a", "schema": {"type": "object", "properties": {}}},
    }
    sent = _send("claude-opus-4-7", {"reasoning_effort": "low", "response_format": response_format})
    assert sent["thinking"] == {"type": "adaptive"}
    assert sent["output_config"] == {
        "effort": "low",
        "format": {
            "type": "json_schema",
            "schema": {"type": "object", "properties": {}, "additionalProperties": False},
        },
    }
    assert "tools" not in sent


@pytest.mark.proves("response_format", "anthropic")
def test_json_object_is_the_forced_tool_even_with_native_structured_outputs() -> None:
    sent = _send("claude-opus-4-7", {"response_format": {"type": "json_object"}})
    assert sent["tool_choice"] == {"type": "tool", "name": "json_response"}
    assert "output_config" not in sent
    with pytest.raises(errors.InvalidRequest, match="response_format") as refused:
        _send(
            "claude-opus-4-7",
            {"response_format": {"type": "json_object"}, "reasoning_effort": "low"},
        )
    assert refused.value.param == "reasoning_effort"


@pytest.mark.proves("response_format", "anthropic")
def test_strict_schema_closes_objects_and_describes_what_claude_does_not_take() -> None:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 2},
            "when": {"type": "string", "format": "date"},
            "kind": {"oneOf": [{"type": "integer", "minimum": 1}, {"type": "null"}]},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 3},
            "color": {"enum": ["red", "blue"]},
        },
        "required": ["name"],
        "additionalProperties": True,
    }
    assert strict_schema(schema) == {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "{minLength: 2}"},
            "when": {"type": "string", "format": "date"},
            "kind": {
                "anyOf": [
                    {"type": "integer", "description": "{minimum: 1}"},
                    {"type": "null"},
                ]
            },
            "tags": {
                "type": "array",
                "items": {"type": "string"},
                "description": "{minItems: 3}",
            },
            "color": {"enum": ["red", "blue"]},
        },
        "additionalProperties": False,
        "required": ["name"],
    }


@pytest.mark.proves("response_format", "anthropic")
def test_a_schema_native_outputs_cannot_say_falls_back_to_the_forced_tool() -> None:
    schema = {"type": "object", "properties": {"x": {"not": {"type": "string"}}}}
    assert strict_schema(schema) is None
    response_format = {"type": "json_schema", "json_schema": {"name": "a", "schema": schema}}
    sent = _send("claude-opus-4-7", {"response_format": response_format})
    assert sent["tools"][0]["input_schema"] == schema
    assert "output_config" not in sent


def render_capabilities() -> str:
    """The table docs/providers.md carries, from `CAPABILITIES`."""

    def effort(levels: tuple[str, ...]) -> str:
        return ", ".join(levels) or "—"

    lines = [
        "| model name (first match) | temperature, top_p | thinking | effort levels "
        "| native structured outputs |",
        "|---|---|---|---|---|",
    ]
    for pattern, found in CAPABILITIES:
        lines.append(
            f"| `{pattern}` | {found.sampling} | {found.thinking} | {effort(found.effort)} "
            f"| {'yes' if found.structured_outputs else 'no'} |"
        )
    return "\n".join(lines) + "\n"


@pytest.mark.proves("claude_capabilities", "anthropic")
def test_the_docs_carry_the_capability_table_as_the_code_has_it() -> None:
    assert render_capabilities() in DOC.read_text(), render_capabilities()
    assert CAPABILITIES[-1] == ("*", CURRENT)


@pytest.mark.proves("response_format", "anthropic")
def test_a_native_structured_answer_comes_back_as_plain_content() -> None:
    message = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-opus-4-7",
        "content": [{"type": "text", "text": '{"answer": "Oslo"}'}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 6},
    }
    validate_anthropic(RESPONSE_SCHEMA, message)
    target = Deployment(name="claude", provider="anthropic", model="claude-opus-4-7")
    parsed = response.parse_response(Endpoint.CHAT_COMPLETIONS, orjson.dumps(message), target)
    choice = orjson.loads(parsed.body)["choices"][0]
    assert choice["message"]["content"] == '{"answer": "Oslo"}'
    assert choice["finish_reason"] == "stop"
    assert "tool_calls" not in choice["message"]


@pytest.mark.parametrize("model", _sdk_models())
def test_routing_thinks_a_claude_can_think_where_the_translation_asks_it_to(model: str) -> None:
    """Routing's defaults (`tollway_common.providers`) agree with this table on thinking, so a
    request with a reasoning effort is never routed to a model whose translation drops it."""
    routed = Deployment(name="c", provider="anthropic", model=model).can()
    assert (Capability.THINKING in routed) == (capabilities(model).thinking is not Thinking.NONE)
