"""The credential one upstream call carries: the deployment's API key (a secret reference), an
OAuth access token the router keeps fresh (`auth`, the deployment's or one pool credential's),
or the Foundry resource and key a per-request tenant sent with the request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from tollway_common.contract import TenantCredential
from tollway_common.control import (
    RESOURCE_NAME_PATTERN,
    Deployment,
    ModelAlias,
    Tenancy,
    UpstreamAuth,
)
from tollway_common.errors import InvalidRequest, UpstreamAuthFailed
from tollway_common.providers import FACTS
from tollway_common.secret_refs import SecretNotFound, SecretResolver
from tollway_router.credentials.token_cache import TokenCache


@dataclass(frozen=True, slots=True)
class Credential:
    """`api_key` goes in the provider's key header; `bearer` in `Authorization`. A tenant's
    credential also names the Foundry resource to call."""

    kind: Literal["api_key", "bearer"]
    value: str = field(repr=False)
    foundry_resource: str | None = None

    def header(self, api_key_header: Callable[[str], tuple[str, str]]) -> tuple[str, str]:
        if self.kind == "bearer":
            return "authorization", f"Bearer {self.value}"
        return api_key_header(self.value)


class Credentials:
    def __init__(self, secrets: SecretResolver, tokens: TokenCache) -> None:
        self._secrets = secrets
        self._tokens = tokens

    async def resolve(
        self,
        model: ModelAlias,
        deployment: Deployment,
        tenant: TenantCredential | None,
        api_key: str | None,
        auth: UpstreamAuth | None = None,
        credential: str = "",
    ) -> Credential | None:
        """`api_key` or `auth` is what the attempt chose: the deployment's, or that of the
        pool credential named `credential`."""
        if tenant is not None:
            return _tenant(model, deployment, tenant)
        auth = auth or deployment.auth
        if auth is not None:
            scope = deployment.oauth_scope(auth) or ""
            token = await self._tokens.token(auth, scope, deployment.name, credential)
            return Credential("bearer", token)
        if api_key is None:
            return None
        try:
            return Credential("api_key", self._secrets.resolve(api_key))
        except SecretNotFound as exc:
            raise UpstreamAuthFailed(
                f"The credential of deployment '{deployment.name}' is not available: {exc}."
            ) from exc

    def with_headers(self, deployment: Deployment) -> Deployment:
        """The deployment with its secret-reference header values resolved."""
        references = [(f, r) for f, r in deployment.secret_references() if f.startswith("headers.")]
        if not references:
            return deployment
        headers = dict(deployment.headers)
        for name, reference in references:
            try:
                headers[name.removeprefix("headers.")] = self._secrets.resolve(reference)
            except SecretNotFound as exc:
                raise UpstreamAuthFailed(
                    f"A header of deployment '{deployment.name}' is not available: {exc}."
                ) from exc
        return deployment.model_copy(update={"headers": headers})

    async def close(self) -> None:
        await self._tokens.close()


def _tenant(model: ModelAlias, deployment: Deployment, tenant: TenantCredential) -> Credential:
    # The edge checks all of this; the router checks again because a resource name becomes
    # part of a host name here.
    if model.tenancy is not Tenancy.PER_REQUEST or not FACTS[deployment.provider].takes_tenancy:
        raise InvalidRequest(
            f"Model '{model.name}' does not take per-request Foundry credentials.", param="model"
        )
    if not RESOURCE_NAME_PATTERN.match(tenant.resource):
        raise InvalidRequest(
            "The Foundry resource name must be one DNS label (letters, digits, inner hyphens).",
            param="model",
        )
    return Credential("api_key", tenant.api_key.get_secret_value(), tenant.resource)


def for_tenant(
    model: ModelAlias, deployment: Deployment, tenant: TenantCredential | None
) -> Deployment:
    """The deployment as a per-request tenant calls it: its own deployment name on its own
    resource when it named one (the router checks the entry's globs again: the name becomes the
    upstream model)."""
    if tenant is None or tenant.deployment is None:
        return deployment
    if not model.admits_tenant_deployment(tenant.deployment):
        raise InvalidRequest(
            f"Model '{model.name}' does not allow the deployment '{tenant.deployment[:64]}'.",
            param="model",
        )
    return deployment.model_copy(update={"model": tenant.deployment})
