"""Per-request tenancy for Foundry models (`tenancy: per_request` on the model entry, off by
default).

A caller without a virtual key may bring its own Azure AI Foundry resource and key: as the API
key `<resource>:<key>` with the model alias, or the key alone with the model
`<resource>/<alias>`; instead of the alias it may name a deployment of its own resource that
the entry's `tenant_deployments` globs allow (and its `tenant_deployments_deny` do not). The
edge turns them into a tenant principal (its key id a hash of the upstream key, so limits and
usage count per tenant) and hands resource, key and deployment name to the router inside the
InferRequest only; nothing stores or logs them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import SecretStr

from tollway_common.contract import Principal, TenantCredential
from tollway_common.control import (
    RESOURCE_NAME_PATTERN,
    KeyRecord,
    ModelAlias,
    Tenancy,
    hash_key,
    kv_key_for_alias,
)
from tollway_common.errors import AuthenticationFailed, InvalidRequest
from tollway_edge.auth import Caller, UnknownKey

Models = Mapping[str, ModelAlias]  # the catalog's models, by `kv_key_for_alias`

TENANT_KEY_ID_PREFIX = "tenant-"
_KEY = re.compile(r"^[\x21-\x7e]{8,512}\Z")  # printable ASCII without spaces


@dataclass(frozen=True, slots=True)
class Tenant:
    caller: Caller
    model: ModelAlias
    credential: TenantCredential


def offers_tenancy(models: Models) -> bool:
    return any(model.tenancy is Tenancy.PER_REQUEST for model in models.values())


def authenticate_tenant(key: str, requested: str, models: Models, unknown: UnknownKey) -> Tenant:
    """The tenant `key` and the `requested` model stand for; `unknown` (the key is no virtual
    key) is raised again when the model takes no per-request credentials.

    The model is an alias, or a deployment name on the tenant's own resource that an entry's
    `tenant_deployments` allow; either may follow `<resource>/`."""
    # An alias may itself hold a '/': the whole name is an alias before it is a resource.
    if kv_key_for_alias(requested) in models:
        named_resource, slash, name = "", "", requested
    else:
        named_resource, slash, name = requested.rpartition("/")
    model, deployment = _entry(name, models, unknown)
    if slash:
        if ":" in key:
            raise AuthenticationFailed(
                "Name the Foundry resource once: in the API key ('<resource>:<key>') or in the "
                f"model ('<resource>/{name}'), not both."
            )
        if not RESOURCE_NAME_PATTERN.match(named_resource.lower()):
            raise InvalidRequest(
                "The Foundry resource before '/' in the model must be a resource name "
                "(letters, digits and inner hyphens, at most 63).",
                param="model",
            )
        resource, upstream_key = named_resource, key
    else:
        resource, colon, upstream_key = key.partition(":")
        if not colon:
            raise AuthenticationFailed(
                f"Model '{name}' takes your own Azure AI Foundry credentials: send "
                f"'<resource>:<key>' as the API key, or the key alone with the model "
                f"'<resource>/{name}'."
            )
        if not RESOURCE_NAME_PATTERN.match(resource.lower()):
            raise AuthenticationFailed(
                "The Foundry resource before ':' in your API key must be a resource name "
                "(letters, digits and inner hyphens, at most 63)."
            )
    if not _KEY.match(upstream_key):
        raise AuthenticationFailed(
            "The Foundry key must be 8 to 512 printable characters without spaces."
        )
    return _tenant(model, resource.lower(), upstream_key, deployment)


def _entry(name: str, models: Models, unknown: UnknownKey) -> tuple[ModelAlias, str | None]:
    """The model entry serving `name`, and the tenant's own deployment name when `name` is one.

    An alias wins over a deployment name; among entries allowing the same deployment name the
    first by alias name serves it, so the choice never depends on the order of the catalog."""
    direct = models.get(kv_key_for_alias(name))
    if direct is not None:
        if direct.tenancy is not Tenancy.PER_REQUEST:
            raise unknown
        return direct, None
    allowing = sorted(
        (model for model in models.values() if model.admits_tenant_deployment(name)),
        key=lambda model: model.name,
    )
    if not allowing:
        raise unknown
    return allowing[0], name


def _tenant(model: ModelAlias, resource: str, upstream_key: str, deployment: str | None) -> Tenant:
    key_id = TENANT_KEY_ID_PREFIX + hash_key(upstream_key)[:32]
    principal = Principal(key_id=key_id, key_name=resource, auth="tenant")
    # A record that is never stored: it carries the model's per-tenant limits into admission.
    record = KeyRecord(
        key_id=key_id,
        name=f"tenant {resource}",
        key_hash="",
        prefix="",
        limits=model.tenant_limits,
    )
    return Tenant(
        caller=Caller(principal=principal, levels=(), key=record),
        model=model,
        credential=TenantCredential(
            resource=resource, api_key=SecretStr(upstream_key), deployment=deployment
        ),
    )
