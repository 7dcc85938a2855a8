"""Every field of OpenAI's chat and completions requests has a rule for Claude deployments, and
each rule is what the translation does: mapped or sent per model (it changes the body),
dropped (the body is as if it were absent), refused (a 400 naming the field)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from tests.support.anthropic_schema import validate_anthropic_request
from tests.support.claude_requests import (
    CASES,
    DEFAULT_MODEL,
    DROPPED,
    ENDPOINTS,
    REFUSED,
    RULES,
    SENT,
    Case,
    body_of,
)
from tests.support.features import field_feature
from tests.support.openai_schema import _SPEC, REQUEST_SCHEMAS

from tollway_common import errors
from tollway_common.control import Deployment
from tollway_edge.request_facts import read_facts
from tollway_router.providers.anthropic import request
from tollway_router.providers.anthropic.fields import Rule


def _spec_fields(schema_name: str) -> set[str]:
    schemas = _SPEC.registry().contents(_SPEC.uri)["components"]["schemas"]

    def properties(name: str) -> set[str]:
        schema = schemas[name]
        found: set[str] = set()
        for part in [*schema.get("allOf", []), schema]:
            if "$ref" in part:
                found |= properties(part["$ref"].rsplit("/", 1)[-1])
            found |= set(part.get("properties", {}))
        return found

    return properties(schema_name)


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_every_field_of_openais_request_has_a_rule_and_no_rule_names_another(
    endpoint: str,
) -> None:
    assert set(RULES[endpoint]) == _spec_fields(REQUEST_SCHEMAS[ENDPOINTS[endpoint]])


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_every_rule_is_shown_by_a_case_with_its_outcomes(endpoint: str) -> None:
    shown: dict[str, set[str]] = {}
    for case in CASES:
        if case.endpoint == endpoint:
            shown.setdefault(case.name, set()).add(case.outcome)
    needs = {
        Rule.MAPPED: {SENT},
        Rule.PER_MODEL: {SENT, DROPPED},
        Rule.DROPPED: {DROPPED},
        Rule.REFUSED: {REFUSED},
    }
    for name, rule in RULES[endpoint].items():
        assert needs[rule.rule] <= shown.get(name, set()), name
        if rule.rule is Rule.DROPPED:
            assert shown[name] == {DROPPED}, name


def _sent(case: Case, body: dict[str, Any]) -> dict[str, Any]:
    update: dict[str, Any] = {"model": case.model}
    if case.foundry:
        update["foundry_resource"] = "contoso"
    target = Deployment(name="claude", provider="anthropic", model=DEFAULT_MODEL).model_copy(
        update=update
    )
    endpoint = ENDPOINTS[case.endpoint]
    call = request.build_request(endpoint, body, read_facts(endpoint, body), target)
    sent: dict[str, Any] = orjson.loads(call.body)
    validate_anthropic_request(sent)
    return sent


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            case,
            id=f"{case.endpoint}-{case.name}-{case.outcome}-{case.model}-{i}",
            marks=pytest.mark.proves(field_feature(case.endpoint, case.name), "anthropic"),
        )
        for i, case in enumerate(CASES)
    ],
)
def test_each_field_follows_its_rule(case: Case) -> None:
    body = body_of(case)
    if case.outcome == REFUSED:
        with pytest.raises(errors.InvalidRequest) as refused:
            _sent(case, body)
        assert refused.value.status == 400
        assert (refused.value.param or "").split(".")[0] == case.name
        return
    sent = _sent(case, body)
    without = _sent(case, body_of(case, with_field=False))
    if case.outcome == DROPPED:
        assert sent == without
    else:
        assert sent != without or case.name == "model"
        assert {key: sent.get(key) for key in case.expected} == case.expected
