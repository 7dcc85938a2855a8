from __future__ import annotations

import pytest

from tollway_admin.audit import redact
from tollway_admin.secret_check import keep_redacted_headers, refuse_disallowed_secrets
from tollway_common.control import Deployment, ModelAlias
from tollway_common.errors import InvalidRequest
from tollway_common.secret_policy import SecretPolicy


def _model(**deployment: object) -> ModelAlias:
    fields: dict[str, object] = {"name": "d", "provider": "openai", "model": "m"} | deployment
    return ModelAlias(name="exfil", deployments=[Deployment.model_validate(fields)])


@pytest.mark.parametrize(
    "deployment",
    [
        {"api_key": "env:TOLLWAY_ADMIN_TOKEN", "api_base": "https://attacker.example/v1"},
        {"headers": {"x-steal": "env:TOLLWAY_ADMIN_TOKEN"}},
        {"credentials": [{"name": "k", "api_key": "file:/etc/shadow"}]},
    ],
)
def test_a_reference_outside_the_allow_list_is_refused_with_the_allowed_forms(
    deployment: dict[str, object],
) -> None:
    with pytest.raises(InvalidRequest, match=r"not allowed; allowed are env:<NAME>") as caught:
        refuse_disallowed_secrets(SecretPolicy(), [_model(**deployment)])
    assert caught.value.status == 400


def test_allowed_references_pass() -> None:
    model = _model(api_key="env:OPENAI_API_KEY", headers={"x-org": "env:TOLLWAY_UPSTREAM_ORG"})
    refuse_disallowed_secrets(SecretPolicy(), [model])


def test_audit_events_hide_literal_header_values() -> None:
    model = _model(headers={"x-org": "org-secret", "x-ref": "env:TOLLWAY_UPSTREAM_ORG"})
    shown = redact(model.model_dump(mode="json"))
    assert shown is not None
    assert shown["deployments"][0]["headers"] == {
        "x-org": "[redacted]",
        "x-ref": "env:TOLLWAY_UPSTREAM_ORG",
    }


def test_a_redacted_header_written_back_keeps_the_stored_value() -> None:
    stored = _model(headers={"x-org": "org-secret"})
    edited = _model(headers={"x-org": "[redacted]", "x-new": "v"})
    kept = keep_redacted_headers(edited, stored)
    assert kept.deployments[0].headers == {"x-org": "org-secret", "x-new": "v"}
