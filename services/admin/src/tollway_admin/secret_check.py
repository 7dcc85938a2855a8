"""Refuse model records naming a secret outside the allow-list, when they are written (the
router refuses them again when it resolves them), and hide literal header values in views."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tollway_common.control import ModelAlias, is_secret_reference
from tollway_common.errors import InvalidRequest
from tollway_common.secret_policy import SecretPolicy

REDACTED = "[redacted]"


def refuse_disallowed_secrets(policy: SecretPolicy, models: Iterable[ModelAlias]) -> None:
    for model in models:
        for deployment in model.deployments:
            for field, reference in deployment.secret_references():
                refusal = policy.refusal(reference)
                if refusal is not None:
                    raise InvalidRequest(
                        f"Model '{model.name}', deployment '{deployment.name}', {field}: {refusal}."
                    )


def redact_headers(record: dict[str, Any]) -> dict[str, Any]:
    """A model record as JSON with its deployments' literal header values hidden; secret
    references stay as written."""
    deployments = record.get("deployments")
    if not isinstance(deployments, list):
        return record
    return {**record, "deployments": [_redacted(d) for d in deployments]}


def _redacted(deployment: Any) -> Any:
    if not isinstance(deployment, dict) or not deployment.get("headers"):
        return deployment
    headers = {
        name: value if is_secret_reference(value) else REDACTED
        for name, value in deployment["headers"].items()
    }
    return {**deployment, "headers": headers}


def keep_redacted_headers(model: ModelAlias, existing: ModelAlias | None) -> ModelAlias:
    """A record read back from a view and written again carries `[redacted]` where a literal
    header value was: keep the stored value there."""
    if existing is None:
        return model
    before = {d.name: d.headers for d in existing.deployments}
    deployments = []
    for deployment in model.deployments:
        stored = before.get(deployment.name, {})
        headers = {
            name: stored.get(name, value) if value == REDACTED else value
            for name, value in deployment.headers.items()
        }
        deployments.append(deployment.model_copy(update={"headers": headers}))
    return model.model_copy(update={"deployments": deployments})
