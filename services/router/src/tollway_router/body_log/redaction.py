"""Replace personal data and secrets in text before it is stored (pure).

Built-in rules find private keys, JWTs, bearer tokens, API keys (`sk-`, `tw-`, GitHub, Slack,
Google, Stripe), AWS access keys and secrets, emails, card numbers (13 to 19 digits that pass
the Luhn check) and phone numbers (a leading `+`, or 10 to 15 digits written with separators
or parentheses); operators add their own patterns by name. A match becomes
`[REDACTED:<rule>]`, which no rule matches again, so redacting twice changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

MARKER = "[REDACTED:{}]"
RULE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}\Z")


@dataclass(frozen=True, slots=True)
class Rule:
    """`pattern` finds candidates; `accept` (if set) decides which are really redacted;
    `group` names the part replaced (0: the whole match), so a key name can stay readable."""

    name: str
    pattern: re.Pattern[str]
    accept: Callable[[str], bool] | None = None
    group: int = 0


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _is_card(candidate: str) -> bool:
    digits = re.sub(r"[ -]", "", candidate)
    return 13 <= len(digits) <= 19 and luhn_valid(digits)


_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}\Z")
_DATE_START = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _is_phone(candidate: str) -> bool:
    digits = sum(char.isdigit() for char in candidate)
    if candidate.startswith("+"):
        return 8 <= digits <= 15
    if _IPV4.match(candidate) or _DATE_START.match(candidate):
        return False
    return 10 <= digits <= 15


BUILTIN_RULES: tuple[Rule, ...] = (
    Rule(
        "private_key",
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL
        ),
    ),
    Rule("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")),
    Rule("bearer_token", re.compile(r"\b[Bb][Ee][Aa][Rr][Ee][Rr]\s+[A-Za-z0-9._~+/-]{8,}=*")),
    Rule(
        "api_key",
        re.compile(
            r"\b(?:"
            r"(?:sk|tw|pk|rk)-[A-Za-z0-9_-]{16,}"
            r"|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}"
            r"|gh[pousr]_[A-Za-z0-9]{30,}"
            r"|github_pat_[A-Za-z0-9_]{22,}"
            r"|xox[abposr]-[A-Za-z0-9-]{10,}"
            r"|AIza[0-9A-Za-z_-]{35}"
            r")"
        ),
    ),
    Rule("aws_access_key", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b")),
    Rule(
        "aws_secret_key",
        re.compile(
            r"(?i:aws_?secret(?:_?access)?_?key)[\"']?\s*[:=]\s*[\"']?"
            r"([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
        ),
        group=1,
    ),
    Rule(
        "email",
        re.compile(r"(?<![\w.%+-])[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"),
    ),
    Rule("card_number", re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)"), accept=_is_card),
    Rule(
        "phone",
        re.compile(
            r"(?<![\w+])(?:"
            r"\+\d{8,15}"
            r"|(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]\d{1,4}){1,5}"
            r")(?![\w])"
        ),
        accept=_is_phone,
    ),
)


def custom_rules(patterns: Mapping[str, str]) -> tuple[Rule, ...]:
    """Rules from settings, `name -> regular expression`; raises ValueError on a bad one."""
    rules = []
    for name, pattern in patterns.items():
        if not RULE_NAME.match(name):
            raise ValueError(f"redaction rule name {name!r}: use lowercase letters, digits, _")
        try:
            rules.append(Rule(name, re.compile(pattern)))
        except re.error as exc:
            raise ValueError(f"redaction rule {name!r}: not a valid pattern: {exc}") from exc
    return tuple(rules)


class Redactor:
    def __init__(self, rules: tuple[Rule, ...] = BUILTIN_RULES) -> None:
        self.rules = rules
        self._markers = {rule.name: MARKER.format(rule.name) for rule in rules}

    @classmethod
    def with_custom(cls, patterns: Mapping[str, str]) -> Redactor:
        return cls(BUILTIN_RULES + custom_rules(patterns))

    def text(self, value: str, counts: dict[str, int] | None = None) -> str:
        """`value` with every match replaced; `counts` (if given) is increased per rule."""
        for rule in self.rules:
            value = rule.pattern.sub(self._replacer(rule, counts), value)
        return value

    def json(self, value: Any, counts: dict[str, int] | None = None) -> Any:
        """A copy of a decoded JSON value with its strings (keys too) redacted; integers that
        look like card numbers become the card marker."""
        if isinstance(value, str):
            return self.text(value, counts)
        if isinstance(value, dict):
            return {self.text(str(k), counts): self.json(v, counts) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(item, counts) for item in value]
        if isinstance(value, int) and not isinstance(value, bool) and _is_card(str(abs(value))):
            _count(counts, "card_number")
            return self._markers.get("card_number", MARKER.format("card_number"))
        return value

    def _replacer(
        self, rule: Rule, counts: dict[str, int] | None
    ) -> Callable[[re.Match[str]], str]:
        marker = self._markers[rule.name]

        def replace(match: re.Match[str]) -> str:
            found = match.group(rule.group)
            if rule.accept is not None and not rule.accept(found):
                return match.group(0)
            _count(counts, rule.name)
            if rule.group == 0:
                return marker
            whole, start = match.group(0), match.start(rule.group) - match.start(0)
            return whole[:start] + marker + whole[start + len(found) :]

        return replace


def _count(counts: dict[str, int] | None, name: str) -> None:
    if counts is not None:
        counts[name] = counts.get(name, 0) + 1
