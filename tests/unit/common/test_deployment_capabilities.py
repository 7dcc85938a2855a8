"""What a deployment can serve: the provider's model-family defaults
(`tollway_common.providers`), with the flags an operator declares (`Deployment.capabilities`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tollway_common.contract import Capability
from tollway_common.control import Deployment
from tollway_common.providers import EVERYTHING, FACTS, Families

VISION, TOOLS, THINKING, SCHEMA = (
    Capability.VISION,
    Capability.TOOLS,
    Capability.THINKING,
    Capability.STRUCTURED_OUTPUTS,
)


def _deployment(provider: str, model: str, **fields: Any) -> Deployment:
    return Deployment.model_validate({"name": "d", "provider": provider, "model": model, **fields})


@pytest.mark.parametrize(
    ("provider", "model", "expected"),
    [
        ("openai", "gpt-4o-mini", {VISION, TOOLS, SCHEMA}),
        ("openai", "gpt-4.1-2025-04-14", {VISION, TOOLS, SCHEMA}),
        ("openai", "gpt-4-turbo", {VISION, TOOLS}),
        ("openai", "gpt-4-0613", {TOOLS}),
        ("openai", "gpt-3.5-turbo", {TOOLS}),
        ("openai", "o1-mini", {THINKING}),
        ("openai", "o3-mini", {TOOLS, THINKING, SCHEMA}),
        ("openai", "o3", EVERYTHING),
        ("openai", "gpt-5-chat-latest", {VISION, TOOLS, SCHEMA}),
        ("openai", "gpt-5-mini", EVERYTHING),
        ("openai", "text-embedding-3-small", set()),
        ("azure_openai", "GPT-35-Turbo", {TOOLS}),
        ("anthropic", "claude-3-5-haiku-20241022", {VISION, TOOLS, SCHEMA}),
        ("anthropic", "claude-3-7-sonnet-20250219", EVERYTHING),
        ("anthropic", "anthropic.claude-3-haiku-20240307-v1:0", {VISION, TOOLS, SCHEMA}),
        ("anthropic", "claude-sonnet-4-5", EVERYTHING),
        # A name no row knows (a local model) can do everything until the operator says not.
        ("openai", "llama3.1:8b", EVERYTHING),
        ("fake", "gpt-3.5-turbo", EVERYTHING),
    ],
)
def test_an_undeclared_deployment_can_what_its_model_family_can(
    provider: str, model: str, expected: set[Capability]
) -> None:
    assert _deployment(provider, model).can() == frozenset(expected)


def test_the_family_is_read_from_base_model_when_model_is_an_operators_name() -> None:
    deployment = _deployment("anthropic", "my-claude", base_model="claude-3-5-haiku-20241022")
    assert THINKING not in deployment.can()


def test_declared_flags_override_the_defaults_one_by_one() -> None:
    local = _deployment("openai", "llava", capabilities={"vision": True, "thinking": False})
    assert local.can() == EVERYTHING - {THINKING}
    old = _deployment("openai", "gpt-3.5-turbo", capabilities={"structured_outputs": True})
    assert old.can() == {TOOLS, SCHEMA}


@pytest.mark.parametrize(
    "capabilities",
    [{"eyes": True}, {"vision": "sometimes"}, ["vision"]],
)
def test_a_capability_that_is_not_a_flag_is_refused_naming_it(capabilities: Any) -> None:
    with pytest.raises(ValidationError, match="capabilities"):
        _deployment("openai", "gpt-4o", capabilities=capabilities)


ROUTING_DOC = Path(__file__).parents[3] / "docs" / "routing.md"


def _rendered_families() -> list[str]:
    """The doc table's rows as `FACTS` makes them: providers sharing a family table share rows."""
    by_table: dict[int, tuple[list[str], Families]] = {}
    for provider, facts in FACTS.items():
        if facts.families:
            by_table.setdefault(id(facts.families), ([], facts.families))[0].append(provider.value)
    rows = []
    for providers, families in by_table.values():
        for pattern, found in families:
            flags = " | ".join("yes" if c in found else "no" for c in Capability)
            rows.append(f"| {', '.join(providers)} | `{pattern}` | {flags} |")
    return rows


def test_the_routing_doc_lists_the_family_defaults_the_code_has() -> None:
    section = ROUTING_DOC.read_text().split("<!-- capability-families:", 1)[1]
    table = section.split("<!-- /capability-families -->", 1)[0].splitlines()
    header = "| provider | model | " + " | ".join(c.value for c in Capability) + " |"
    assert table[1] == header
    assert table[3:] == _rendered_families()
