"""Decide whether a principal may make a request: allow/deny lists and caps at org, team and
key level, combined as ceilings, so a narrower level can only narrow what a wider one allows.

`effective` combines the levels once: allow lists intersect (a name must match every level
that has one), deny lists add up, the smallest cap wins, and a level that turns body logging
on holds over one that turns it off. The checks read that combination and name the level whose
rule refused. Pure functions over control-plane records, so the edge can run them per request
from memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from tollway_common.contract import RequestFacts
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
    # What a cap refusal is about: "max_tokens", "n" (too many answers) or "prompt".
    about: str = ""


@dataclass(frozen=True, slots=True)
class Rule:
    """One level's allow or deny list."""

    level: str
    patterns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Cap:
    value: int
    level: str


@dataclass(frozen=True, slots=True)
class Effective:
    """Every level's policy combined. The rules keep their level, widest first, so a refusal
    names the widest level that refuses (the one a narrower level cannot override)."""

    allow_models: tuple[Rule, ...] = ()
    deny_models: tuple[Rule, ...] = ()
    allow_endpoints: tuple[Rule, ...] = ()
    deny_endpoints: tuple[Rule, ...] = ()
    max_tokens_cap: Cap | None = None
    max_prompt_tokens: Cap | None = None
    log_bodies: bool | None = None


def effective(levels: Sequence[Level]) -> Effective:
    """`levels` go from narrowest (key) to widest (org)."""
    widest_first = tuple(reversed(levels))
    return Effective(
        allow_models=_allow(widest_first, "allow_models"),
        deny_models=_deny(widest_first, "deny_models"),
        allow_endpoints=_allow(widest_first, "allow_endpoints"),
        deny_endpoints=_deny(widest_first, "deny_endpoints"),
        max_tokens_cap=_smallest(widest_first, "max_tokens_cap"),
        max_prompt_tokens=_smallest(widest_first, "max_prompt_tokens"),
        log_bodies=_body_logging(levels),
    )


def _allow(levels: Sequence[Level], pick: str) -> tuple[Rule, ...]:
    # None is no opinion; an empty allow list is an opinion: nothing.
    return tuple(
        Rule(level.name, tuple(patterns))
        for level in levels
        if (patterns := getattr(level.policy, pick)) is not None
    )


def _deny(levels: Sequence[Level], pick: str) -> tuple[Rule, ...]:
    return tuple(
        Rule(level.name, tuple(patterns))
        for level in levels
        if (patterns := getattr(level.policy, pick))
    )


def _smallest(levels: Sequence[Level], pick: str) -> Cap | None:
    caps = [Cap(value, level.name) for level in levels if (value := getattr(level.policy, pick))]
    # On a tie the widest level is named: lifting the narrower one would not lift the cap.
    return min(caps, key=lambda cap: cap.value, default=None)


def _body_logging(levels: Sequence[Level]) -> bool | None:
    """On if any level turns it on (a narrower `false` cannot switch off a wider `true`); off
    if some level turns it off and none on; None when no level has an opinion."""
    opinions = {level.policy.log_bodies for level in levels} - {None}
    if not opinions:
        return None
    return True in opinions


def _matches(value: str, patterns: Sequence[str]) -> bool:
    return any(fnmatchcase(value, pattern) for pattern in patterns)


def _list_refusal(
    value: str, allow: Sequence[Rule], deny: Sequence[Rule]
) -> tuple[str, str] | None:
    """The level refusing `value` and how (`denies` or `does not allow`), if any does."""
    for rule in deny:
        if _matches(value, rule.patterns):
            return rule.level, "denies"
    for rule in allow:
        if not _matches(value, rule.patterns):
            return rule.level, "does not allow"
    return None


def model_refusal(rules: Effective, model: str) -> Refusal | None:
    found = _list_refusal(model, rules.allow_models, rules.deny_models)
    if found is None:
        return None
    level, how = found
    return Refusal(
        rule=f"{level} model policy", message=f"The {level} policy {how} model '{model}'."
    )


def endpoint_refusal(rules: Effective, endpoint: str) -> Refusal | None:
    found = _list_refusal(endpoint, rules.allow_endpoints, rules.deny_endpoints)
    if found is None:
        return None
    level, how = found
    return Refusal(
        rule=f"{level} endpoint policy",
        message=f"The {level} policy {how} the '{endpoint}' endpoint.",
    )


def cap_refusal(rules: Effective, facts: RequestFacts) -> Refusal | None:
    """The max_tokens cap bounds what all the answers together may use (`n` answers of up to
    `max_tokens` each); the prompt cap bounds the prompt's estimated size."""
    cap = rules.max_tokens_cap
    if cap is not None:
        refusal = _output_refusal(cap, facts)
        if refusal is not None:
            return refusal
    prompt_cap = rules.max_prompt_tokens
    if prompt_cap is not None and facts.prompt_tokens > prompt_cap.value:
        return Refusal(
            rule=f"{prompt_cap.level} prompt size cap",
            message=(
                f"The prompt is about {facts.prompt_tokens} tokens, above the {prompt_cap.level} "
                f"cap of {prompt_cap.value}."
            ),
            is_cap=True,
            about="prompt",
        )
    return None


def _output_refusal(cap: Cap, facts: RequestFacts) -> Refusal | None:
    rule = f"{cap.level} max_tokens cap"
    if facts.max_tokens is None:
        if facts.answers <= cap.value:
            return None
        message = (
            f"n {facts.answers} asks for more answers than the {cap.level} cap of {cap.value} "
            f"tokens can hold; ask for {cap.value} or fewer."
        )
        return Refusal(rule=rule, message=message, is_cap=True, about="n")
    total = facts.output_tokens or 0
    if total <= cap.value:
        return None
    if facts.answers == 1:
        asked, fewer = f"max_tokens {facts.max_tokens}", f"ask for {cap.value} or fewer"
    else:
        asked = f"n {facts.answers} answers of max_tokens {facts.max_tokens} ({total} tokens)"
        each = cap.value // facts.answers
        fewer = (
            f"ask for {each} or fewer each, or fewer answers"
            if each
            else f"ask for {cap.value} answers or fewer"
        )
    return Refusal(
        rule=rule,
        message=f"{asked} is above the {cap.level} cap of {cap.value}; {fewer}.",
        is_cap=True,
        about="max_tokens" if facts.max_tokens > cap.value else "n",
    )


def cap_bound(rules: Effective, facts: RequestFacts) -> int | None:
    """The max_tokens to give each answer of a request that named none, so all of them stay
    within the cap; None when no cap applies."""
    if rules.max_tokens_cap is None:
        return None
    # `cap_refusal` has refused more answers than the cap has tokens.
    return max(1, rules.max_tokens_cap.value // facts.answers)
