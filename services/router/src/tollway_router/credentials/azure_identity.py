"""Upstream tokens from azure-identity's async credentials (`auth: {type: azure_identity}`):
AKS Workload Identity, managed identity, the environment's service principal and the Azure CLI,
through Microsoft's own library rather than hand-written grants (`token_grants.py` keeps those
for the configurations that name them).

One credential object per (kind, client, tenant) lives as long as the router: azure-identity
caches its tokens and re-reads the projected Kubernetes token file as it rotates. `token_cache`
keeps the answer per scope and refreshes it early, as for every other grant.
"""

from __future__ import annotations

from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import AzureError, ClientAuthenticationError
from azure.identity.aio import (
    AzureCliCredential,
    DefaultAzureCredential,
    ManagedIdentityCredential,
    WorkloadIdentityCredential,
)

from tollway_common.control import AzureIdentity
from tollway_router.credentials.token_grants import (
    REFRESH_MARGIN_S,
    Token,
    TokenRefused,
    TokenUnavailable,
)

_Key = tuple[str, str | None, str | None]
# azure-identity's messages run to paragraphs of troubleshooting links: the first line says it.
_MESSAGE_CHARS = 300


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:_MESSAGE_CHARS]


def new_credential(auth: AzureIdentity) -> AsyncTokenCredential:
    """The azure-identity credential `auth.credential` names."""
    if auth.credential == "workload":
        return WorkloadIdentityCredential(tenant_id=auth.tenant_id, client_id=auth.client_id)
    if auth.credential == "managed":
        return ManagedIdentityCredential(client_id=auth.client_id)
    if auth.credential == "cli":
        return AzureCliCredential(tenant_id=auth.tenant_id or "")
    return DefaultAzureCredential(
        managed_identity_client_id=auth.client_id,
        workload_identity_client_id=auth.client_id,
        workload_identity_tenant_id=auth.tenant_id,
    )


class AzureCredentials:
    def __init__(self) -> None:
        self._credentials: dict[_Key, AsyncTokenCredential] = {}

    async def token(self, auth: AzureIdentity, scope: str, now: float) -> Token:
        """A token for `scope`; TokenRefused when the credential cannot sign in (not configured
        here, or Entra ID said no), TokenUnavailable when Entra ID could not be reached."""
        key = (auth.credential, auth.client_id, auth.tenant_id)
        credential = self._credentials.get(key)
        if credential is None:
            try:
                credential = self._credentials[key] = new_credential(auth)
            except ValueError as exc:  # a workload credential without its environment
                raise TokenRefused(_first_line(exc)) from exc
        try:
            answer = await credential.get_token(scope)
        except ClientAuthenticationError as exc:
            raise TokenRefused(_first_line(exc)) from exc
        except (AzureError, OSError, TimeoutError) as exc:  # Entra ID was not reached
            raise TokenUnavailable(_first_line(exc)) from exc
        expires_at = float(answer.expires_on)
        lifetime = max(0.0, expires_at - now)
        return Token(answer.token, expires_at, expires_at - min(REFRESH_MARGIN_S, lifetime / 2))

    async def close(self) -> None:
        for credential in self._credentials.values():
            await credential.close()
        self._credentials.clear()
