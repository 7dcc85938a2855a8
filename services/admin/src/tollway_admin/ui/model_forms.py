"""The catalog forms' fields to records: a new model with its first deployment, a deployment
added to a model, an alias of a model, and a price with every unit `Price` knows. Pure; the
pages (`pages/model_new.py`, `pages/model_edit.py`) run the API's checks and write.

Upstream secrets are secret references only (`env:NAME`, `file:/path`), as in the API: the
record's own validator refuses anything else, and the page checks the reference against the
secret policy. A deployment's literal headers (which may be credentials) have no field here."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from tollway_admin.ui.form_values import FieldErrors, collect, field_errors, names, text, tri_state
from tollway_common.control import Deployment, ModelAlias, Price
from tollway_common.providers import Provider

DEPLOYMENT_PREFIX = "d."
# Form field names of the deployment, after DEPLOYMENT_PREFIX; all but the capabilities are
# Deployment fields of the same name.
DEPLOYMENT_TEXT_FIELDS = (
    "name",
    "provider",
    "model",
    "api_base",
    "api_key",
    "api_version",
    "azure_deployment",
    "foundry_resource",
    "base_model",
    "context_window",
    "weight",
    "priority",
)
CAPABILITY_FIELDS = ("vision", "tools", "thinking", "structured_outputs")
PRICE_FIELDS = (
    "input_per_mtok",
    "output_per_mtok",
    "cached_read_per_mtok",
    "cache_write_per_mtok",
    "per_image",
    "per_audio_minute",
    "per_mchar",
    "batch_multiplier",
)
MODEL_LISTS = ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks")
MAX_NAME_CHARS = 256


def _name(values: Mapping[str, str], field: str, what: str) -> str:
    value = text(values, field, MAX_NAME_CHARS)
    if not value:
        raise FieldErrors({field: f"give the {what} a name"})
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise FieldErrors({field: f"a {what} name has no spaces or control characters"})
    return value


def deployment_from(values: Mapping[str, str]) -> Deployment:
    """The deployment the `d.*` fields describe."""
    prefix = DEPLOYMENT_PREFIX
    data: dict[str, Any] = {}
    problems: list[FieldErrors] = []
    try:
        data["name"] = _name(values, prefix + "name", "deployment")
    except FieldErrors as exc:
        problems.append(exc)
    for field in DEPLOYMENT_TEXT_FIELDS[1:]:
        try:
            value = text(values, prefix + field)
        except FieldErrors as exc:
            problems.append(exc)
            continue
        if value:
            data[field] = value
    capabilities: dict[str, bool] = {}
    for field in CAPABILITY_FIELDS:
        try:
            flag = tri_state(values, prefix + field)
        except FieldErrors as exc:
            problems.append(exc)
            continue
        if flag is not None:
            capabilities[field] = flag
    data["capabilities"] = capabilities
    collect(*problems)
    try:
        return Deployment.model_validate(data)
    except ValidationError as exc:
        fields = {field: prefix + field for field in DEPLOYMENT_TEXT_FIELDS}
        fields["capabilities"] = prefix + "vision"
        raise field_errors(exc, fields) from None


def model_from(values: Mapping[str, str]) -> ModelAlias:
    """A new model: its name, strategy and fallbacks, and its first deployment."""
    problems: list[FieldErrors] = []
    data: dict[str, Any] = {}
    try:
        data["name"] = _name(values, "name", "model")
    except FieldErrors as exc:
        problems.append(exc)
    if strategy := values.get("strategy", ""):
        data["strategy"] = strategy
    for field in MODEL_LISTS:
        try:
            data[field] = names(values, field)
        except FieldErrors as exc:
            problems.append(exc)
    try:
        data["deployments"] = [deployment_from(values)]
    except FieldErrors as exc:
        problems.append(exc)
    collect(*problems)
    try:
        return ModelAlias.model_validate(data)
    except ValidationError as exc:
        fields = {"name": "name", "strategy": "strategy", **{f: f for f in MODEL_LISTS}}
        raise field_errors(exc, fields) from None


def with_deployment(model: ModelAlias, deployment: Deployment) -> ModelAlias:
    """The model serving one deployment more (validated again as a whole)."""
    if any(d.name == deployment.name for d in model.deployments):
        raise FieldErrors(
            {DEPLOYMENT_PREFIX + "name": f"{model.name} has a deployment by that name"}
        )
    data = model.model_dump(mode="json")
    data["deployments"].append(deployment.model_dump(mode="json"))
    try:
        return ModelAlias.model_validate(data)
    except ValidationError as exc:
        raise field_errors(exc, {}) from None


def alias_of(source: ModelAlias, values: Mapping[str, str]) -> ModelAlias:
    """A second name for the upstreams of `source`: its deployments, strategy and retries,
    under deployment names of their own (`<deployment>-<alias>`; deployment names are unique
    across the catalog, so health and usage tell the alias's traffic apart). Later edits to
    either do not follow the other."""
    name = _name(values, "alias", "alias")
    data = source.model_dump(mode="json")
    data.update(name=name, created=0, managed_by="")
    for deployment in data["deployments"]:
        deployment["name"] = f"{deployment['name']}-{name}"
    try:
        return ModelAlias.model_validate(data)
    except ValidationError as exc:
        raise field_errors(exc, {"name": "alias"}) from None


def price_from(model: str, values: Mapping[str, str], current: Price | None) -> Price | None:
    """The price the form asks for: None when it names none (no input or output price), else
    `current` when nothing changed, else a new price with an empty version (the write stamps
    one, so usage rows tell the prices apart)."""
    entered: dict[str, str] = {}
    for field in (*PRICE_FIELDS, "currency"):
        value = text(values, field, 64)
        if value:
            entered[field] = value
    if "input_per_mtok" not in entered and "output_per_mtok" not in entered:
        return None
    managed_by = current.managed_by if current is not None else ""
    data: dict[str, Any] = {"model": model, "currency": "USD", "managed_by": managed_by, **entered}
    data.setdefault("input_per_mtok", "0")
    data.setdefault("output_per_mtok", "0")
    try:
        price = Price.model_validate(data)
    except ValidationError as exc:
        raise field_errors(exc, {f: f for f in (*PRICE_FIELDS, "currency")}) from None
    if current is not None and price == current.model_copy(update={"version": ""}):
        return current
    return price


def price_values(price: Price | None) -> dict[str, str]:
    """A stored price as the form's fields (unset units stay empty)."""
    if price is None:
        return {}
    found = {field: _plain(getattr(price, field)) for field in PRICE_FIELDS}
    return {**{k: v for k, v in found.items() if v}, "currency": price.currency}


def _plain(value: Decimal | None) -> str:
    return "" if value is None else str(value)


PROVIDERS = tuple(provider.value for provider in Provider)
