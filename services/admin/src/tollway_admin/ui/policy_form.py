"""The policy form of an organisation or a team: its fields to a `Policy` and back, and the
record with the new policy and rate limits. Pure; `pages/policy_edit.py` checks and writes.

An empty allow list means "no opinion" (any model or endpoint the levels above allow), as a
record without `allow_models` does in the API; a level can only narrow what is above it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from tollway_admin.ui.form_values import FieldErrors, collect, field_errors, names, text
from tollway_common.control import Limits, OrgRecord, Policy, TeamRecord

Owner = TypeVar("Owner", OrgRecord, TeamRecord)

LIST_FIELDS = ("allow_models", "deny_models", "allow_endpoints", "deny_endpoints")
NUMBER_FIELDS = ("max_tokens_cap", "max_prompt_tokens")
LIMIT_FIELDS = ("rpm", "tpm")
LOG_BODIES_CHOICES = {"": None, "on": True, "off": False}


def policy_values(record: OrgRecord | TeamRecord) -> dict[str, str]:
    """The form's fields for a stored org or team."""
    policy = record.policy
    found = {"name": record.name}
    for field in LIST_FIELDS:
        listed = getattr(policy, field)
        found[field] = ", ".join(listed) if listed else ""
    for field in NUMBER_FIELDS:
        number = getattr(policy, field)
        found[field] = "" if number is None else str(number)
    for field in LIMIT_FIELDS:
        number = getattr(record.limits, field)
        found[field] = "" if number is None else str(number)
    found["log_bodies"] = {None: "", True: "on", False: "off"}[policy.log_bodies]
    return found


def _policy(values: Mapping[str, str]) -> Policy:
    data: dict[str, Any] = {}
    problems: list[FieldErrors] = []
    for field in LIST_FIELDS:
        try:
            listed = names(values, field)
        except FieldErrors as exc:
            problems.append(exc)
            continue
        if listed or field.startswith("deny"):
            data[field] = listed
    for field in NUMBER_FIELDS:
        try:
            number = text(values, field, 32)
        except FieldErrors as exc:
            problems.append(exc)
            continue
        if number:
            data[field] = number
    choice = values.get("log_bodies", "")
    if choice not in LOG_BODIES_CHOICES:
        problems.append(FieldErrors({"log_bodies": "choose on, off or no opinion"}))
    else:
        data["log_bodies"] = LOG_BODIES_CHOICES[choice]
    collect(*problems)
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise field_errors(exc, {f: f for f in (*LIST_FIELDS, *NUMBER_FIELDS)}) from None


def _limits(record: OrgRecord | TeamRecord, values: Mapping[str, str]) -> Limits:
    data = record.limits.model_dump(mode="json")
    problems: list[FieldErrors] = []
    for field in LIMIT_FIELDS:
        try:
            data[field] = text(values, field, 32) or None
        except FieldErrors as exc:
            problems.append(exc)
    collect(*problems)
    try:
        return Limits.model_validate(data)
    except ValidationError as exc:
        raise field_errors(exc, {f: f for f in LIMIT_FIELDS}) from None


def with_policy(record: Owner, values: Mapping[str, str]) -> Owner:
    """`record` with the form's name, policy and requests/tokens per minute (its other limits,
    budgets and metadata as they were). Every field's problem is reported at once."""
    found: dict[str, Any] = {}
    problems: list[FieldErrors] = []
    for part, read in (
        ("policy", lambda: _policy(values)),
        ("limits", lambda: _limits(record, values)),
        ("name", lambda: text(values, "name", 256)),
    ):
        try:
            found[part] = read()
        except FieldErrors as exc:
            problems.append(exc)
    collect(*problems)
    return record.model_copy(update=found)


def policy_text(policy: Policy) -> str:
    """A policy in a table cell: what it allows, denies and caps ("—" when it has no opinion)."""
    parts = []
    if policy.allow_models is not None:
        parts.append("models " + (", ".join(policy.allow_models) or "none"))
    if policy.deny_models:
        parts.append("not " + ", ".join(policy.deny_models))
    if policy.allow_endpoints is not None:
        parts.append("endpoints " + (", ".join(policy.allow_endpoints) or "none"))
    if policy.deny_endpoints:
        parts.append("not " + ", ".join(policy.deny_endpoints))
    if policy.max_tokens_cap is not None:
        parts.append(f"≤ {policy.max_tokens_cap} tokens")
    if policy.max_prompt_tokens is not None:
        parts.append(f"≤ {policy.max_prompt_tokens} prompt tokens")
    if policy.log_bodies is not None:
        parts.append("bodies logged" if policy.log_bodies else "bodies not logged")
    return "; ".join(parts) or "—"
