"""Decide whether a principal may make a request: allow/deny lists and caps at org, team and
key level, where the narrowest level with an opinion wins.

Pure functions over control-plane records, so the edge can run them per request from memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from tollway_common.control import Policy


@dataclass(frozen=True, slots=True)
class Level:
    """One level's policy and how to name it in a refusal, e.g. `key 'ci'`."""

    name: str
    policy: Policy


@dataclass(frozen=True, slots=True)
class Refusal:
    rule: str
    message: str
    is_cap: bool = False


def _matches(value: str, patterns: Sequence[str]) -> bool:
    return any(fnmatchcase(value, pattern) for pattern in patterns)


def _list_verdict(value: str, allow: Sequence[str] | None, deny: Sequence[str]) -> bool | None:
    """True (allowed), False (refused) or None (this level has no opinion on `value`)."""
    if _matches(value, deny):
        return False
    if allow is not None:
        return _matches(value, allow)
    return None


def model_refusal(levels: Sequence[Level], model: str) -> Refusal | None:
    """`levels` go from narrowest (key) to widest (org)."""
    for level in levels:
        verdict = _list_verdict(model, level.policy.allow_models, level.policy.deny_models)
        if verdict is None:
            continue
        if verdict:
            return None
        return Refusal(
            rule=f"{level.name} model policy",
            message=f"The {level.name} policy does not allow model '{model}'.",
        )
    return None


def endpoint_refusal(levels: Sequence[Level], endpoint: str) -> Refusal | None:
    for level in levels:
        policy = level.policy
        verdict = _list_verdict(endpoint, policy.allow_endpoints, policy.deny_endpoints)
        if verdict is None:
            continue
        if verdict:
            return None
        return Refusal(
            rule=f"{level.name} endpoint policy",
            message=f"The {level.name} policy does not allow the '{endpoint}' endpoint.",
        )
    return None


def max_tokens_cap(levels: Sequence[Level]) -> tuple[int, str] | None:
    """The narrowest level's `max_tokens` cap and who set it."""
    for level in levels:
        if level.policy.max_tokens_cap is not None:
            return level.policy.max_tokens_cap, level.name
    return None


def prompt_tokens_cap(levels: Sequence[Level]) -> tuple[int, str] | None:
    for level in levels:
        if level.policy.max_prompt_tokens is not None:
            return level.policy.max_prompt_tokens, level.name
    return None


def cap_refusal(
    levels: Sequence[Level], requested_max_tokens: int | None, prompt_tokens: int
) -> Refusal | None:
    cap = max_tokens_cap(levels)
    if cap is not None and requested_max_tokens is not None and requested_max_tokens > cap[0]:
        return Refusal(
            rule=f"{cap[1]} max_tokens cap",
            message=(
                f"max_tokens {requested_max_tokens} is above the {cap[1]} cap of {cap[0]}; "
                f"ask for {cap[0]} or fewer."
            ),
            is_cap=True,
        )
    prompt_cap = prompt_tokens_cap(levels)
    if prompt_cap is not None and prompt_tokens > prompt_cap[0]:
        return Refusal(
            rule=f"{prompt_cap[1]} prompt size cap",
            message=(
                f"The prompt is about {prompt_tokens} tokens, above the {prompt_cap[1]} cap of "
                f"{prompt_cap[0]}."
            ),
            is_cap=True,
        )
    return None


def body_logging(levels: Sequence[Level]) -> bool | None:
    """Whether the narrowest level with an opinion logs bodies; None if no level has one."""
    for level in levels:
        if level.policy.log_bodies is not None:
            return level.policy.log_bodies
    return None
