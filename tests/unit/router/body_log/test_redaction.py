"""Redaction: each rule on examples, and properties over generated data (hypothesis): what a
rule must catch never survives, ordinary text is left alone, redacting twice changes nothing."""

from __future__ import annotations

import base64
import string

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tollway_router.body_log.redaction import Redactor, custom_rules, luhn_valid

REDACTOR = Redactor.with_custom({"employee_id": r"EMP-\d{6}"})
quick = settings(deadline=None, max_examples=200)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to jane.doe+tag@mail.example.co.uk today", "write to [REDACTED:email] today"),
        ("card 4111 1111 1111 1111.", "card [REDACTED:card_number]."),
        ("card 4111-1111-1111-1111", "card [REDACTED:card_number]"),
        ("amex 378282246310005", "amex [REDACTED:card_number]"),
        ("not a card 4111 1111 1111 1112", "not a card 4111 1111 1111 1112"),
        ("call +44 20 7946 0958", "call [REDACTED:phone]"),
        ("call (415) 555-2671 or 415.555.2671", "call [REDACTED:phone] or [REDACTED:phone]"),
        ("call +14155552671", "call [REDACTED:phone]"),
        ("on 2024-01-15 10:30 from 192.168.100.200", "on 2024-01-15 10:30 from 192.168.100.200"),
        (
            "version 1.2.3, pi 3.14159, id 1718000000001",
            "version 1.2.3, pi 3.14159, id 1718000000001",
        ),
        ("OPENAI_API_KEY=sk-proj-abcdefghij0123456789", "OPENAI_API_KEY=[REDACTED:api_key]"),
        ("sk-ant-api03-abcdefghijklmnop", "[REDACTED:api_key]"),
        ("tollway tw-AbCdEfGhIjKlMnOpQrStUvWxYz012345", "tollway [REDACTED:api_key]"),
        ("Authorization: Bearer abc.def-ghi_jkl123", "Authorization: [REDACTED:bearer_token]"),
        ("ghp_" + "a1" * 18, "[REDACTED:api_key]"),
        ("id AKIAIOSFODNN7EXAMPLE", "id [REDACTED:aws_access_key]"),
        (
            'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"',
            'aws_secret_access_key = "[REDACTED:aws_secret_key]"',
        ),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl", "[REDACTED:jwt]"),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY----- done",
            "[REDACTED:private_key] done",
        ),
        ("badge EMP-123456 issued", "badge [REDACTED:employee_id] issued"),
        ("task-scheduler-with-a-long-name and risk-management", None),
    ],
)
def test_each_rule_on_examples(text: str, expected: str | None) -> None:
    assert REDACTOR.text(text) == (text if expected is None else expected)


def test_counts_are_kept_per_rule() -> None:
    counts: dict[str, int] = {}
    REDACTOR.text("a@b.io, c@d.io, 4111111111111111 and sk-abcdefghijklmnopqrst", counts)
    assert counts == {"email": 2, "card_number": 1, "api_key": 1}


def test_json_values_and_keys_are_redacted_and_other_values_kept() -> None:
    counts: dict[str, int] = {}
    body = {
        "model": "gpt",
        "messages": [{"role": "user", "content": "I am bob@example.com"}],
        "metadata": {"bob@example.com": "x", "card": 4111111111111111, "n": 3, "ok": True},
        "temperature": 0.5,
        "stop": None,
    }
    assert REDACTOR.json(body, counts) == {
        "model": "gpt",
        "messages": [{"role": "user", "content": "I am [REDACTED:email]"}],
        "metadata": {"[REDACTED:email]": "x", "card": "[REDACTED:card_number]", "n": 3, "ok": True},
        "temperature": 0.5,
        "stop": None,
    }
    assert counts == {"email": 2, "card_number": 1}


@pytest.mark.parametrize(
    ("patterns", "message"),
    [({"Bad Name": "x"}, "rule name"), ({"broken": "("}, "not a valid pattern")],
)
def test_custom_rules_are_checked(patterns: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        custom_rules(patterns)


# --- properties --------------------------------------------------------------------------------

filler = st.text(alphabet=string.ascii_lowercase + " ,;:!?", max_size=40)
local_part = st.text(
    alphabet=string.ascii_letters + string.digits + "._%+-", min_size=1, max_size=20
)
domain_label = st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=12)
emails = st.builds(
    lambda local, labels, tld: f"{local}@{'.'.join(labels)}.{tld}",
    local_part.filter(lambda s: s[0].isalnum()),
    st.lists(domain_label, min_size=1, max_size=3),
    st.text(alphabet=string.ascii_lowercase, min_size=2, max_size=6),
)


def _with_check_digit(body: str) -> str:
    for digit in "0123456789":
        if luhn_valid(body + digit):
            return body + digit
    raise AssertionError("some check digit always fits")


card_digits = st.integers(min_value=13, max_value=19).flatmap(
    lambda n: st.text(alphabet=string.digits, min_size=n - 1, max_size=n - 1).map(_with_check_digit)
)


def _grouped(digits: str, separator: str) -> str:
    return separator.join(digits[i : i + 4] for i in range(0, len(digits), 4))


cards = st.builds(_grouped, card_digits, st.sampled_from(["", " ", "-"]))
token_chars = string.ascii_letters + string.digits + "_-"
api_keys = st.builds(
    lambda prefix, rest: prefix + rest,
    st.sampled_from(["sk-", "sk-proj-", "sk-ant-api03-", "tw-"]),
    st.text(alphabet=token_chars, min_size=16, max_size=64).filter(lambda s: s[0] != "-"),
)
json_objects = st.dictionaries(
    st.text(alphabet=string.ascii_letters, min_size=1, max_size=8),
    st.one_of(st.integers(min_value=-(2**53), max_value=2**53), st.text(max_size=10)),
    min_size=1,
    max_size=4,
)


def _b64(value: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


jwts = st.builds(
    lambda header, claims, signature: f"{_b64(header)}.{_b64(claims)}.{signature}",
    json_objects,
    json_objects,
    st.text(alphabet=token_chars, max_size=43),
)
phones = st.one_of(
    st.text(alphabet=string.digits, min_size=8, max_size=15).map(lambda d: "+" + d),
    st.builds(
        lambda a, b, c: f"({a}) {b}-{c}",
        st.text(alphabet=string.digits, min_size=3, max_size=3),
        st.text(alphabet=string.digits, min_size=3, max_size=3),
        st.text(alphabet=string.digits, min_size=4, max_size=4),
    ),
)


@quick
@given(before=filler, secret=st.one_of(emails, cards, api_keys, jwts, phones), after=filler)
def test_a_secret_in_text_never_survives(before: str, secret: str, after: str) -> None:
    redacted = REDACTOR.text(f"{before} {secret} {after}")
    assert secret not in redacted
    assert "[REDACTED:" in redacted


@quick
@given(card=card_digits.filter(lambda digits: digits[0] != "0"))
def test_a_card_number_as_a_json_integer_never_survives(card: str) -> None:
    body = {"payment": {"number": int(card)}}
    assert REDACTOR.json(body) == {"payment": {"number": "[REDACTED:card_number]"}}


@quick
@given(digits=st.text(alphabet=string.digits, min_size=13, max_size=19))
def test_a_digit_run_is_a_card_exactly_when_the_luhn_check_passes(digits: str) -> None:
    redacted = REDACTOR.text(f"ref {digits} end")
    assert (redacted == "ref [REDACTED:card_number] end") == luhn_valid(digits)
    if not luhn_valid(digits):
        assert redacted == f"ref {digits} end"


@quick
@given(text=filler.filter(lambda s: "bearer" not in s))
def test_text_without_digits_at_signs_or_key_prefixes_is_unchanged(text: str) -> None:
    assert REDACTOR.text(text) == text


@quick
@given(text=st.text(max_size=200))
def test_redacting_twice_changes_nothing(text: str) -> None:
    once = REDACTOR.text(text)
    assert REDACTOR.text(once) == once


@quick
@given(addresses=st.lists(emails, min_size=1, max_size=5))
def test_every_email_is_counted(addresses: list[str]) -> None:
    counts: dict[str, int] = {}
    REDACTOR.text(" and ".join(addresses), counts)
    assert counts == {"email": len(addresses)}
