"""Representative OpenAI chat and completions requests for Claude deployments, one or more per
request field, each with the outcome its rule (`providers/anthropic/fields.py`) promises: the
field is sent (mapped or per model), dropped, or refused. The unit tests check each outcome;
the SDK contract test sends every request that is not refused through the locked SDK."""

from __future__ import annotations

import hashlib
import typing
from dataclasses import dataclass, field
from typing import Any

from anthropic.types.message_create_params import (
    MessageCreateParamsNonStreaming,
    MessageCreateParamsStreaming,
)
from pydantic import TypeAdapter

from tests.support.anthropic_schema import _SPEC as ANTHROPIC_SPEC
from tests.support.anthropic_schema import REQUEST_SCHEMA
from tollway_common.contract import Endpoint
from tollway_router.providers.anthropic.capabilities import Sampling, capabilities
from tollway_router.providers.anthropic.fields import CHAT_FIELDS, COMPLETION_FIELDS

DEFAULT_MODEL = "claude-haiku-4-5-20251001"
OPUS_4_7 = "claude-opus-4-7"
HAIKU_3_5 = "claude-3-5-haiku-20241022"
OPUS_4_1 = "claude-opus-4-1-20250805"
HELLO = {"role": "user", "content": "Hello"}
WEATHER_FN = {
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
WEATHER = {"type": "function", "function": WEATHER_FN}
SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
    "additionalProperties": False,
}
JSON_SCHEMA = {"type": "json_schema", "json_schema": {"name": "answer", "schema": SCHEMA}}
SENT, DROPPED, REFUSED = "sent", "dropped", "refused"
ENDPOINTS = {"chat": Endpoint.CHAT_COMPLETIONS, "completions": Endpoint.COMPLETIONS}
RULES = {"chat": CHAT_FIELDS, "completions": COMPLETION_FIELDS}


@dataclass(frozen=True)
class Case:
    endpoint: str
    name: str
    value: Any
    outcome: str
    model: str = DEFAULT_MODEL
    # What the Messages body holds with the field (sent), beside the base body.
    expected: dict[str, Any] = field(default_factory=dict)
    base: dict[str, Any] = field(default_factory=dict)
    foundry: bool = False


def chat(name: str, value: Any, outcome: str, **rest: Any) -> Case:
    return Case("chat", name, value, outcome, **rest)


def legacy(name: str, value: Any, outcome: str, **rest: Any) -> Case:
    return Case("completions", name, value, outcome, **rest)


_USER_TURN = [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}]
CASES = [
    chat("audio", {"voice": "alloy", "format": "wav"}, REFUSED),
    chat("audio", None, DROPPED),
    chat("frequency_penalty", 0.5, DROPPED),
    chat(
        "function_call",
        {"name": "get_weather"},
        SENT,
        base={"functions": [WEATHER_FN]},
        expected={"tool_choice": {"type": "tool", "name": "get_weather"}},
    ),
    chat(
        "functions",
        [WEATHER_FN],
        SENT,
        expected={"tools": [{"name": "get_weather", "input_schema": WEATHER_FN["parameters"]}]},
    ),
    chat("logit_bias", {"50256": -100}, DROPPED),
    chat("logprobs", True, REFUSED),
    chat("logprobs", False, DROPPED),
    chat("max_completion_tokens", 300, SENT, expected={"max_tokens": 300}),
    chat("max_tokens", 200, SENT, expected={"max_tokens": 200}),
    chat(
        "messages",
        [{"role": "developer", "content": "Be brief."}, HELLO],
        SENT,
        expected={"system": [{"type": "text", "text": "Be brief."}], "messages": _USER_TURN},
    ),
    chat("metadata", {"team": "a"}, DROPPED),
    chat("modalities", ["text", "audio"], REFUSED),
    chat("modalities", ["text"], DROPPED),
    chat("model", "anything", SENT, expected={"model": DEFAULT_MODEL}),
    chat("n", 2, REFUSED),
    chat("n", 1, DROPPED),
    chat(
        "parallel_tool_calls",
        False,
        SENT,
        base={"tools": [WEATHER]},
        expected={"tool_choice": {"type": "auto", "disable_parallel_tool_use": True}},
    ),
    chat("prediction", {"type": "content", "content": "Hello"}, DROPPED),
    chat("presence_penalty", -0.5, DROPPED),
    chat("prompt_cache_key", "tenant-1", DROPPED),
    chat("prompt_cache_retention", "24h", DROPPED),
    chat(
        "reasoning_effort",
        "high",
        SENT,
        model=OPUS_4_7,
        expected={"thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}},
    ),
    chat(
        "reasoning_effort",
        "medium",
        SENT,
        expected={"thinking": {"type": "enabled", "budget_tokens": 4096}, "max_tokens": 8192},
    ),
    chat("reasoning_effort", "low", DROPPED, model=HAIKU_3_5),
    chat("reasoning_effort", "none", DROPPED),
    chat("reasoning_effort", "extreme", REFUSED),
    chat(
        "response_format",
        JSON_SCHEMA,
        SENT,
        expected={"output_config": {"format": {"type": "json_schema", "schema": SCHEMA}}},
    ),
    chat(
        "response_format",
        JSON_SCHEMA,
        SENT,
        model=OPUS_4_1,
        expected={"tool_choice": {"type": "tool", "name": "json_response"}},
    ),
    chat("response_format", {"type": "text"}, DROPPED),
    chat("safety_identifier", "hash-1", SENT, expected={"metadata": {"user_id": "hash-1"}}),
    chat("seed", 42, DROPPED),
    chat("service_tier", "priority", SENT, expected={"service_tier": "auto"}),
    chat("service_tier", "default", SENT, expected={"service_tier": "standard_only"}),
    chat("service_tier", "flex", DROPPED),
    chat("service_tier", "auto", DROPPED, foundry=True),
    chat("stop", ["END"], SENT, expected={"stop_sequences": ["END"]}),
    chat("stop", ["", "END"], SENT, expected={"stop_sequences": ["END"]}),
    chat("stop", 5, REFUSED),
    chat("store", True, DROPPED),
    chat("stream", True, SENT, expected={"stream": True}),
    chat("stream_options", {"include_usage": True}, DROPPED, base={"stream": True}),
    chat("temperature", 0.25, SENT, expected={"temperature": 0.25}),
    chat("temperature", 0.25, DROPPED, model=OPUS_4_7),
    chat("temperature", 1.5, REFUSED),
    chat("temperature", 2.5, REFUSED, model=OPUS_4_7),
    chat(
        "tool_choice",
        "required",
        SENT,
        base={"tools": [WEATHER]},
        expected={"tool_choice": {"type": "any"}},
    ),
    chat(
        "tools",
        [WEATHER],
        SENT,
        expected={"tools": [{"name": "get_weather", "input_schema": WEATHER_FN["parameters"]}]},
    ),
    chat("top_logprobs", 3, REFUSED),
    chat("top_logprobs", 0, DROPPED),
    chat("top_p", 0.9, SENT, expected={"top_p": 0.9}),
    chat("top_p", 0.9, DROPPED, model=OPUS_4_7),
    chat("top_p", 0.9, DROPPED, base={"temperature": 0.5}),
    chat("user", "u-42", SENT, expected={"metadata": {"user_id": "u-42"}}),
    chat(
        "user",
        "u" * 600,
        SENT,
        expected={"metadata": {"user_id": hashlib.sha256(b"u" * 600).hexdigest()}},
    ),
    chat("verbosity", "low", DROPPED),
    chat("web_search_options", {"search_context_size": "low"}, REFUSED),
    legacy("best_of", 2, REFUSED),
    legacy("best_of", 1, DROPPED),
    legacy("echo", True, REFUSED),
    legacy("echo", False, DROPPED),
    legacy("frequency_penalty", 1.0, DROPPED),
    legacy("logit_bias", {"50256": -100}, DROPPED),
    legacy("logprobs", 2, REFUSED),
    legacy("max_tokens", 50, SENT, expected={"max_tokens": 50}),
    legacy("model", "anything", SENT, expected={"model": DEFAULT_MODEL}),
    legacy("n", 3, REFUSED),
    legacy("presence_penalty", 1.0, DROPPED),
    legacy(
        "prompt",
        ["Hi there"],
        SENT,
        expected={
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi there"}]}]
        },
    ),
    legacy("prompt", [15496, 11], REFUSED),
    legacy("prompt", ["Hello", "Hi"], REFUSED),
    legacy("prompt", [[15496]], REFUSED),
    legacy("prompt", "", REFUSED),
    legacy("seed", 7, DROPPED),
    legacy("stop", "END", SENT, expected={"stop_sequences": ["END"]}),
    legacy("stream", True, SENT, expected={"stream": True}),
    legacy("stream_options", {"include_usage": True}, DROPPED, base={"stream": True}),
    legacy("suffix", "\n}", REFUSED),
    legacy("temperature", 0.25, SENT, expected={"temperature": 0.25}),
    legacy("temperature", 0.25, DROPPED, model=OPUS_4_7),
    legacy("top_p", 0.5, SENT, expected={"top_p": 0.5}),
    legacy("top_p", 0.5, DROPPED, model=OPUS_4_7),
    legacy("user", "u-7", SENT, expected={"metadata": {"user_id": "u-7"}}),
]


def body_of(case: Case, *, with_field: bool = True) -> dict[str, Any]:
    """The client's body for `case`: a minimal request, the case's base, and its field."""
    base: dict[str, Any] = {"model": "claude"}
    base |= {"prompt": "Hello"} if case.endpoint == "completions" else {"messages": [HELLO]}
    base |= case.base
    return {**base, case.name: case.value} if with_field else base


SDK_FIELDS = frozenset(typing.get_type_hints(MessageCreateParamsStreaming))
# What the API takes that the locked SDK no longer names: sent in `extra_body`, per model.
SAMPLING_FIELDS = frozenset({"temperature", "top_p"})
_STREAMING = TypeAdapter(MessageCreateParamsStreaming)
_NOT_STREAMING = TypeAdapter(MessageCreateParamsNonStreaming)


def _deep(value: Any) -> Any:
    """The SDK types use `Iterable[...]`, which pydantic checks lazily, item by item as it is
    read: reading every level makes it check all of them."""
    if isinstance(value, dict):
        return {key: _deep(item) for key, item in value.items()}
    if isinstance(value, str | bytes | int | float | bool) or value is None:
        return value
    if isinstance(value, list) or hasattr(value, "__iter__"):
        return [_deep(item) for item in value]
    return value


def check_against_the_sdk(body: dict[str, Any], model: str) -> None:
    """Raise unless `body` is a `MessageCreateParams` of the locked SDK whose every other field
    is one the API still takes for `model` (and so may ride in `extra_body`)."""
    adapter = _STREAMING if body.get("stream") else _NOT_STREAMING
    _deep(adapter.validate_python(body))
    allowed = set(SDK_FIELDS)
    if capabilities(model).sampling is not Sampling.NONE:
        allowed |= SAMPLING_FIELDS
    assert set(body) <= allowed, f"fields the SDK and the API lack: {set(body) - allowed}"
    schemas = ANTHROPIC_SPEC.registry().contents(ANTHROPIC_SPEC.uri)["components"]["schemas"]
    assert set(body) - SDK_FIELDS <= set(schemas[REQUEST_SCHEMA]["properties"])
