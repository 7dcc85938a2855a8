"""The rule for every field of an OpenAI chat or legacy completions request sent to a Claude
deployment: mapped onto the Messages API, sent where the model takes it (`per model`, decided
by `capabilities.py`), dropped with the reason, or refused with a 400 naming the field.

`check_fields` applies the refusals; the builders in `request.py` apply the rest. The
tables are also the documentation (docs/providers.md is checked against them) and are
checked against every property of OpenAI's published request schemas, so a field OpenAI adds
shows up as a failing test, never as an unexplained 5xx.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tollway_common.errors import InvalidRequest


class Rule(StrEnum):
    MAPPED = "mapped"
    PER_MODEL = "per model"
    DROPPED = "dropped"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class FieldRule:
    rule: Rule
    # For a refused field, which values ("above 1: ..."); for the others, how or why.
    how: str
    # For a field some of whose values Claude cannot honour: the refusal for `value`, or None.
    refuse: Callable[[Any], str | None] | None = None

    def describe(self, name: str) -> str:
        joint = " " if self.rule is Rule.REFUSED else ". "
        return f"`{name}`: {self.rule}{joint}{self.how}"


def _more_than_one(what: str) -> Callable[[Any], str | None]:
    def refuse(value: Any) -> str | None:
        if isinstance(value, int) and not isinstance(value, bool) and value > 1:
            return (
                f"Claude models return one {what} per request, and {value} were asked for. "
                "Send 1 (or omit it) and make several requests instead."
            )
        return None

    return refuse


def _set(message: str) -> Callable[[Any], str | None]:
    """Refuse any value that asks for something: not null, false, 0, empty."""
    return lambda value: message if value not in (None, False, 0, "", [], {}) else None


def _audio_modality(value: Any) -> str | None:
    if isinstance(value, list) and "audio" in value:
        return "Claude models answer in text only; ask for modalities ['text']."
    return None


_NO_LOGPROBS = _set("Claude models do not return log probabilities; omit logprobs.")
_TEMPERATURE = FieldRule(
    Rule.PER_MODEL,
    "Sent (in `extra_body`: the SDK no longer names it) to models that take sampling "
    "parameters, refused above Claude's 1.0 there; dropped for models released after Claude "
    "Opus 4.6, which refuse it.",
)
_TOP_P = FieldRule(
    Rule.PER_MODEL,
    "Like temperature; dropped beside a temperature on models that take only one of the two.",
)
_USER = FieldRule(
    Rule.MAPPED,
    "`metadata.user_id` (chat: when no `safety_identifier` is sent); an id over Claude's 512 "
    "characters goes as its SHA-256.",
)
_STOP = FieldRule(Rule.MAPPED, "`stop_sequences`.")
_STREAM = FieldRule(Rule.MAPPED, "`stream`; Claude's events become OpenAI chunks.")
_STREAM_OPTIONS = FieldRule(
    Rule.DROPPED,
    "Not sent: Claude always reports usage, and the router passes the usage chunk on when "
    "`include_usage` asks for it; `include_obfuscation` has no counterpart.",
)
_MODEL = FieldRule(Rule.MAPPED, "Replaced by the deployment's `model`.")
_N = FieldRule(Rule.REFUSED, "above 1: one choice per request.", _more_than_one("choice"))


def _penalty(name: str) -> FieldRule:
    return FieldRule(Rule.DROPPED, f"Claude has no {name} penalty.")


CHAT_FIELDS: dict[str, FieldRule] = {
    "audio": FieldRule(
        Rule.REFUSED,
        "for any value: Claude does not answer in audio.",
        _set("Claude models do not produce audio; omit audio."),
    ),
    "frequency_penalty": _penalty("frequency"),
    "function_call": FieldRule(
        Rule.MAPPED, "The deprecated `tool_choice`: mapped like it when `functions` is sent."
    ),
    "functions": FieldRule(
        Rule.MAPPED, "The deprecated `tools`: mapped like them when `tools` is absent."
    ),
    "logit_bias": FieldRule(Rule.DROPPED, "Claude takes no token biases."),
    "logprobs": FieldRule(Rule.REFUSED, "when true: Claude returns none.", _NO_LOGPROBS),
    "max_completion_tokens": FieldRule(
        Rule.MAPPED,
        "`max_tokens`: the edge's bound (the larger token field, or the policy cap), thinking "
        "included.",
    ),
    "max_tokens": FieldRule(Rule.MAPPED, "As `max_completion_tokens`."),
    "messages": FieldRule(
        Rule.MAPPED,
        "system and developer -> `system`; user, assistant and tool turns -> alternating "
        "turns of content blocks (text, images, documents, tool use and results, thinking).",
    ),
    "metadata": FieldRule(
        Rule.DROPPED, "OpenAI's tags for stored completions; Claude's metadata holds a user only."
    ),
    "modalities": FieldRule(
        Rule.REFUSED, "when it asks for audio; `['text']` is dropped.", _audio_modality
    ),
    "model": _MODEL,
    "n": _N,
    "parallel_tool_calls": FieldRule(
        Rule.MAPPED, "false -> `tool_choice.disable_parallel_tool_use`."
    ),
    "prediction": FieldRule(
        Rule.DROPPED, "A latency hint (predicted output) Claude has no counterpart for."
    ),
    "presence_penalty": _penalty("presence"),
    "prompt_cache_key": FieldRule(
        Rule.DROPPED,
        "Claude caches at `cache_control` breakpoints (kept on parts, messages and tools), "
        "not by key.",
    ),
    "prompt_cache_retention": FieldRule(
        Rule.DROPPED, "Claude's cache lifetime is the `ttl` of a `cache_control` breakpoint."
    ),
    "reasoning_effort": FieldRule(
        Rule.PER_MODEL,
        "Adaptive thinking plus `output_config.effort` where the model has them, else a "
        "`thinking.budget_tokens` fitted inside `max_tokens`; dropped for models that do not "
        "think; `none` sends no thinking.",
    ),
    "response_format": FieldRule(
        Rule.PER_MODEL,
        "`json_schema` -> `output_config.format` (native structured outputs) where the model "
        "has them, else a forced `json_response` tool; `json_object` -> the forced tool with "
        "an open object schema; `text` -> nothing. The answer is plain assistant content.",
    ),
    "safety_identifier": FieldRule(Rule.MAPPED, "`metadata.user_id`, as `user`."),
    "seed": FieldRule(Rule.DROPPED, "Claude has no seed; its sampling is not reproducible."),
    "service_tier": FieldRule(
        Rule.PER_MODEL,
        "`auto` and `priority` -> `auto`, `default` -> `standard_only`; `flex` and `scale` "
        "dropped; dropped on Azure AI Foundry, which has no tiers.",
    ),
    "stop": _STOP,
    "store": FieldRule(Rule.DROPPED, "Claude keeps no completions to fetch later."),
    "stream": _STREAM,
    "stream_options": _STREAM_OPTIONS,
    "temperature": _TEMPERATURE,
    "tool_choice": FieldRule(
        Rule.MAPPED, "auto, none, required (-> `any`) and a named function (-> `tool`)."
    ),
    "tools": FieldRule(Rule.MAPPED, "Function tools -> `input_schema` tools; others refused."),
    "top_logprobs": FieldRule(Rule.REFUSED, "above 0: Claude returns none.", _NO_LOGPROBS),
    "top_p": _TOP_P,
    "user": _USER,
    "verbosity": FieldRule(
        Rule.DROPPED, "Claude has no verbosity setting (`reasoning_effort` sets its effort)."
    ),
    "web_search_options": FieldRule(
        Rule.REFUSED,
        "for any value: web search is a Claude server tool, reachable through `/v1/messages`.",
        _set(
            "Claude deployments do not search the web through chat completions; send the "
            "request to /v1/messages with Claude's web search tool, or omit web_search_options."
        ),
    ),
}

COMPLETION_FIELDS: dict[str, FieldRule] = {
    "best_of": FieldRule(
        Rule.REFUSED, "above 1: one candidate per request.", _more_than_one("candidate")
    ),
    "echo": FieldRule(
        Rule.REFUSED,
        "when true: Claude does not repeat the prompt.",
        _set("Claude models do not echo the prompt; omit echo."),
    ),
    "frequency_penalty": _penalty("frequency"),
    "logit_bias": FieldRule(Rule.DROPPED, "Claude takes no token biases."),
    "logprobs": FieldRule(Rule.REFUSED, "above 0: Claude returns none.", _NO_LOGPROBS),
    "max_tokens": FieldRule(Rule.MAPPED, "`max_tokens` (the edge's bound)."),
    "model": _MODEL,
    "n": _N,
    "presence_penalty": _penalty("presence"),
    "prompt": FieldRule(
        Rule.MAPPED,
        "One user turn; a string or an array of one string. Token ids and several prompts "
        "are refused.",
    ),
    "seed": FieldRule(Rule.DROPPED, "Claude has no seed; its sampling is not reproducible."),
    "stop": _STOP,
    "stream": FieldRule(Rule.MAPPED, "`stream`; Claude's events become `text_completion` chunks."),
    "stream_options": _STREAM_OPTIONS,
    "suffix": FieldRule(
        Rule.REFUSED,
        "when set: Claude does not insert text before a suffix.",
        _set("Claude models cannot complete text before a suffix; omit suffix."),
    ),
    "temperature": _TEMPERATURE,
    "top_p": _TOP_P,
    "user": _USER,
}


def check_fields(body: Mapping[str, Any], rules: Mapping[str, FieldRule]) -> None:
    """Refuse the first field whose value Claude cannot honour; fields outside `rules` (another
    API's extensions) are dropped."""
    for name, value in body.items():
        rule = rules.get(name)
        message = rule.refuse(value) if rule is not None and rule.refuse is not None else None
        if message is not None:
            raise InvalidRequest(message, param=name)
