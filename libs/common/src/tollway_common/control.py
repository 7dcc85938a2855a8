"""Control-plane records kept in NATS KV (models and keys) and how they are keyed there.

Records are written by admin and mirrored in memory by edge and router. Upstream secrets are
only ever secret references (`env:NAME`, `file:/path`); plaintext keys are never stored, only
their SHA-256 hashes.
"""

from __future__ import annotations

import base64
import hashlib
import re
from decimal import Decimal
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Annotated, Literal
from urllib.parse import urlsplit

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tollway_common.contract import Capability
from tollway_common.providers import FACTS, OAuth, Provider, providers_with

SECRET_REF_PATTERN = re.compile(r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:/.+)\Z")
# An Azure resource name becomes the first label of a host name (`<resource>.services.ai.
# azure.com`): one DNS label, so nothing in it can add a dot, a port, a path or a user part.
RESOURCE_NAME_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
# A deployment name on an Azure AI Foundry resource, as a per-request tenant may send it.
TENANT_DEPLOYMENT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
_DEPLOYMENT_GLOB = r"^[A-Za-z0-9._*?\[\]!-]{1,64}$"  # pydantic (Rust) regex: $ is the end
BETA_PATTERN = re.compile(r"^[a-z0-9*?.\-]{1,128}\Z")
FOUNDRY_HOST_SUFFIX = ".services.ai.azure.com"
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
# Ids become NATS KV keys, which allow only these characters.
ID_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
KEY_PREFIX_LENGTH = 10
# Records written by `tollway apply` or the config file; an apply prunes only these, never
# what was created through the admin API.
MANAGED_BY_CONFIG = "config"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


def _check_reference(value: str, field: str) -> str:
    if not SECRET_REF_PATTERN.match(value):
        raise ValueError(
            f"{field} must be a secret reference like 'env:NAME' or 'file:/path', never the "
            "secret itself"
        )
    return value


def is_secret_reference(value: str) -> bool:
    return SECRET_REF_PATTERN.match(value) is not None


def _check_http_url(value: str, field: str) -> str:
    parts = urlsplit(value)
    if parts.scheme in ("http", "https") and parts.hostname:
        return value
    raise ValueError(f"{field} must be an http(s) URL, not {value!r}")


def _check_token_url(value: str, field: str) -> str:
    """Token requests carry a client secret or a refresh token: https only, except on
    loopback (a local token service, or a test's fake)."""
    parts = urlsplit(value)
    if parts.scheme == "https" and parts.hostname:
        return value.rstrip("/")
    if parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS:
        return value.rstrip("/")
    raise ValueError(f"{field} must be an https URL (http only on loopback), not {value!r}")


class _Auth(_Record):
    scope: str | None = Field(
        default=None,
        description="OAuth scope; Azure OpenAI and Foundry deployments have a default.",
    )


class EntraClientCredentials(_Auth):
    """An Entra ID service principal: client id and secret for tokens, client-credentials grant."""

    type: Literal["entra_client_credentials"]
    tenant_id: str = Field(pattern=r"^[A-Za-z0-9.-]{1,128}$")
    client_id: str = Field(min_length=1)
    client_secret: str
    authority_host: str = "https://login.microsoftonline.com"

    @field_validator("client_secret")
    @classmethod
    def _secret_is_reference(cls, value: str) -> str:
        return _check_reference(value, "client_secret")

    @field_validator("authority_host")
    @classmethod
    def _authority_is_https(cls, value: str) -> str:
        return _check_token_url(value, "authority_host")


class EntraManagedIdentity(_Auth):
    """The managed identity of the machine the router runs on (IMDS, or App Service's
    IDENTITY_ENDPOINT / MSI_ENDPOINT); `client_id` picks a user-assigned identity."""

    type: Literal["entra_managed_identity"]
    client_id: str | None = None


class AzureIdentity(_Auth):
    """Tokens from azure-identity's credentials: `default` (DefaultAzureCredential: environment
    service principal, AKS Workload Identity, managed identity, then developer sign-ins such as
    the Azure CLI), `workload` (AKS Workload Identity: AZURE_FEDERATED_TOKEN_FILE,
    AZURE_CLIENT_ID, AZURE_TENANT_ID), `managed` (the machine's managed identity) or `cli` (the
    developer's `az login`). `client_id` and `tenant_id` override the environment's."""

    type: Literal["azure_identity"]
    credential: Literal["default", "workload", "managed", "cli"] = "default"
    client_id: str | None = Field(default=None, min_length=1, max_length=128)
    tenant_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9.-]{1,128}$")


class OAuthClientCredentials(_Auth):
    """Any OAuth 2.0 token endpoint, client-credentials grant."""

    type: Literal["oauth_client_credentials"]
    token_url: str
    client_id: str = Field(min_length=1)
    client_secret: str

    @field_validator("client_secret")
    @classmethod
    def _secret_is_reference(cls, value: str) -> str:
        return _check_reference(value, "client_secret")

    @field_validator("token_url")
    @classmethod
    def _url_is_https(cls, value: str) -> str:
        return _check_token_url(value, "token_url")


class OAuthRefreshToken(_Auth):
    """Any OAuth 2.0 token endpoint, refresh-token grant. `refresh_token` seeds the account:
    with an encryption key set, routers keep the rotated refresh tokens in NATS KV, encrypted,
    and read the reference again only when it names a different token than the one that
    seeded them (without a key, in each router's memory)."""

    type: Literal["oauth_refresh_token"]
    token_url: str
    client_id: str = Field(min_length=1)
    client_secret: str | None = None
    refresh_token: str

    @field_validator("client_secret", "refresh_token")
    @classmethod
    def _secrets_are_references(cls, value: str | None) -> str | None:
        return None if value is None else _check_reference(value, "client_secret/refresh_token")

    @field_validator("token_url")
    @classmethod
    def _url_is_https(cls, value: str) -> str:
        return _check_token_url(value, "token_url")


UpstreamAuth = Annotated[
    EntraClientCredentials
    | EntraManagedIdentity
    | AzureIdentity
    | OAuthClientCredentials
    | OAuthRefreshToken,
    Field(discriminator="type"),
]


class Credential(_Record):
    """One API key or OAuth account in a deployment's pool, named so health and usage can
    report on it without ever showing the secret."""

    name: str = Field(min_length=1, max_length=128)
    api_key: str | None = Field(
        default=None, description="A secret reference such as env:OPENAI_KEY_2; never the key."
    )
    auth: UpstreamAuth | None = Field(
        default=None,
        description="OAuth for this account (a refresh token, client credentials, Entra ID) "
        "instead of `api_key`; the router keeps its tokens fresh.",
    )

    @field_validator("api_key")
    @classmethod
    def _must_be_reference(cls, value: str | None) -> str | None:
        return None if value is None else _check_reference(value, "api_key")

    @model_validator(mode="after")
    def _key_or_auth(self) -> Credential:
        if self.api_key is not None and self.auth is not None:
            raise ValueError(f"credential {self.name!r}: give api_key or auth, not both")
        return self


def _auth_references(where: str, auth: UpstreamAuth | None) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(auth, EntraClientCredentials | OAuthClientCredentials):
        found.append((f"{where}.client_secret", auth.client_secret))
    if isinstance(auth, OAuthRefreshToken):
        found.append((f"{where}.refresh_token", auth.refresh_token))
        if auth.client_secret:
            found.append((f"{where}.client_secret", auth.client_secret))
    return found


def is_foundry_host(api_base: str | None) -> bool:
    host = urlsplit(api_base).hostname if api_base else None
    return bool(host) and str(host).endswith(FOUNDRY_HOST_SUFFIX)


class DeclaredCapabilities(_Record):
    """What an operator says a deployment can or cannot do; a flag left unset keeps the default
    for its provider and model family (`tollway_common.providers`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vision: bool | None = None
    tools: bool | None = None
    thinking: bool | None = None
    structured_outputs: bool | None = None


class Deployment(_Record):
    """One upstream place that serves a model alias."""

    name: str
    provider: Provider
    model: str
    api_base: str | None = None
    api_key: str | None = Field(
        default=None, description="A secret reference such as env:OPENAI_API_KEY; never the key."
    )
    weight: int = Field(default=1, ge=0)
    timeout_s: float = Field(default=600.0, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)
    api_version: str | None = Field(
        default=None, description="Azure OpenAI api-version, or 'v1' for the /openai/v1/ paths."
    )
    azure_deployment: str | None = Field(
        default=None, description="Azure OpenAI deployment name when it differs from `model`."
    )
    default_max_tokens: int | None = Field(
        default=None, gt=0, description="max_tokens sent when a client gives none (Anthropic)."
    )
    base_model: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="The published model `model` runs, when `model` is an operator's own name "
        "(an Azure AI Foundry deployment): its capabilities decide which request fields are "
        "sent (Anthropic).",
    )
    credentials: list[Credential] = Field(
        default_factory=list,
        description="A pool of keys or OAuth accounts used in turn, rotated away from on 429, "
        "401 and 403; instead of `api_key` and `auth`.",
    )
    priority: int = Field(default=0, description="Lower is tried first (strategy `priority`).")
    context_window: int | None = Field(
        default=None, gt=0, description="Prompt plus max_tokens this deployment accepts."
    )
    input_per_mtok: Decimal | None = Field(
        default=None, ge=0, description="Input price per million tokens (strategy lowest_cost)."
    )
    output_per_mtok: Decimal | None = Field(default=None, ge=0)
    connect_timeout_s: float | None = Field(default=None, gt=0)
    first_byte_timeout_s: float | None = Field(
        default=None,
        gt=0,
        description="Until the upstream starts answering (a stream: its first "
        "event); `timeout_s` when unset.",
    )
    idle_timeout_s: float | None = Field(
        default=None, gt=0, description="Longest silence between two stream events."
    )
    cooldown_s: float = Field(
        default=60.0, gt=0, description="How long a 429 without Retry-After keeps it aside."
    )
    idle_inactive_after_s: float | None = Field(
        default=None, gt=0, description="Mark the deployment inactive after this long unused."
    )
    foundry_resource: str | None = Field(
        default=None,
        description="Azure AI Foundry resource: Claude at https://<resource>.services.ai.azure.com"
        "/anthropic/ through the SDK's Foundry client (provider anthropic).",
    )
    auth: UpstreamAuth | None = Field(
        default=None, description="OAuth credentials (Entra ID) instead of a static api_key."
    )
    capabilities: DeclaredCapabilities = Field(
        default_factory=DeclaredCapabilities,
        description="What it can serve beyond text (vision, tools, thinking, "
        "structured_outputs: true or false each); unset flags follow the provider and model "
        "family. Routing skips a deployment that lacks what a request's content needs.",
    )
    anthropic_betas: list[str] = Field(
        default_factory=list,
        max_length=64,
        description="The anthropic-beta values a Messages client may have forwarded to this "
        "deployment (exact values or globs such as 'context-1m-*'); others are dropped. "
        "Default: none.",
    )

    @field_validator("anthropic_betas")
    @classmethod
    def _betas_are_header_values(cls, values: list[str]) -> list[str]:
        for value in values:
            if not BETA_PATTERN.match(value):
                raise ValueError(
                    "anthropic_betas entries are beta names or globs (lowercase letters, "
                    f"digits, '-', '.', '*', '?'; at most 128), not {value[:140]!r}"
                )
        return values

    @field_validator("api_key")
    @classmethod
    def _must_be_reference(cls, value: str | None) -> str | None:
        return None if value is None else _check_reference(value, "api_key")

    @field_validator("api_base")
    @classmethod
    def _api_base_is_http(cls, value: str | None) -> str | None:
        return None if value is None else _check_http_url(value, "api_base")

    def secret_references(self) -> list[tuple[str, str]]:
        """Every secret reference the router resolves for this deployment, as (field, ref)."""
        found = [("api_key", self.api_key)] if self.api_key else []
        found += [(f"credentials.{c.name}", c.api_key) for c in self.credentials if c.api_key]
        found += [(f"headers.{h}", v) for h, v in self.headers.items() if is_secret_reference(v)]
        found += _auth_references("auth", self.auth)
        for credential in self.credentials:
            found += _auth_references(f"credentials.{credential.name}.auth", credential.auth)
        return found

    def redacted_headers(self) -> dict[str, str]:
        """Headers as views and audit events show them: references as written, literal values
        (which may be credentials) hidden."""
        return {h: v if is_secret_reference(v) else "[redacted]" for h, v in self.headers.items()}

    @model_validator(mode="after")
    def _one_way_to_name_keys(self) -> Deployment:
        if self.credentials and self.api_key is not None:
            raise ValueError("give either api_key or credentials, not both")
        if self.credentials and self.auth is not None:
            raise ValueError(
                "give either auth or credentials (each credential may carry its own auth), not both"
            )
        names = [c.name for c in self.credentials]
        if len(names) != len(set(names)):
            raise ValueError("credential names must be unique within a deployment")
        return self

    def can(self) -> frozenset[Capability]:
        """What this deployment can serve: its family's defaults, with the declared flags."""
        found = set(FACTS[self.provider].capabilities(self.base_model or self.model))
        for capability in Capability:
            declared = getattr(self.capabilities, capability.value)
            if declared is True:
                found.add(capability)
            elif declared is False:
                found.discard(capability)
        return frozenset(found)

    def credential_pool(self) -> list[Credential]:
        """The keys to use in turn: the pool, or the single `api_key` (perhaps none at all)."""
        return self.credentials or [Credential(name="default", api_key=self.api_key)]

    def oauth_scope(self, auth: UpstreamAuth) -> str | None:
        """The scope tokens of `auth` are asked for: its own, or the provider's Entra scope
        (on a provider also reachable on Foundry, only for its Foundry deployments)."""
        if auth.scope is not None:
            return auth.scope
        facts = FACTS[self.provider]
        return facts.entra_scope if self.is_foundry or not facts.foundry else None

    @property
    def is_foundry(self) -> bool:
        return FACTS[self.provider].foundry and (
            self.foundry_resource is not None or is_foundry_host(self.api_base)
        )

    @field_validator("foundry_resource")
    @classmethod
    def _resource_is_a_dns_label(cls, value: str | None) -> str | None:
        if value is not None and not RESOURCE_NAME_PATTERN.match(value.lower()):
            raise ValueError(
                "foundry_resource must be an Azure resource name (letters, digits and inner "
                f"hyphens, at most 63), not {value!r}"
            )
        return None if value is None else value.lower()

    @model_validator(mode="after")
    def _credentials_fit_the_provider(self) -> Deployment:
        facts = FACTS[self.provider]
        if self.foundry_resource is not None and not facts.foundry:
            raise ValueError(
                f"deployment {self.name!r}: foundry_resource is for provider "
                f"{providers_with(lambda f: f.foundry)}"
            )
        if self.foundry_resource is not None and self.api_base is not None:
            raise ValueError(
                f"deployment {self.name!r}: give foundry_resource or api_base, not both"
            )
        if self.auth is not None and self.api_key is not None:
            raise ValueError(f"deployment {self.name!r}: give api_key or auth, not both")
        auths = [("auth", self.auth)] + [
            (f"credentials.{c.name}.auth", c.auth) for c in self.credentials
        ]
        for where, auth in auths:
            if auth is None:
                continue
            if facts.oauth is OAuth.FOUNDRY_ONLY and not self.is_foundry:
                raise ValueError(
                    f"deployment {self.name!r}: provider {self.provider} takes OAuth tokens "
                    "only on Azure AI Foundry (set foundry_resource)"
                )
            # RFC 6749 section 6: a refresh-token grant may leave the scope out.
            if self.oauth_scope(auth) is None and not isinstance(auth, OAuthRefreshToken):
                raise ValueError(
                    f"deployment {self.name!r}: {where}.scope is required for "
                    f"{self.provider}{' outside Azure AI Foundry' if facts.foundry else ''}"
                )
        return self


class RoutingStrategy(StrEnum):
    WEIGHTED_ROUND_ROBIN = "weighted_round_robin"
    LEAST_INFLIGHT = "least_inflight"
    LOWEST_LATENCY = "lowest_latency"
    LOWEST_COST = "lowest_cost"
    PRIORITY = "priority"


class RetryOn(StrEnum):
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    CONNECT_ERROR = "connect_error"
    TIMEOUT = "timeout"


class RetryPolicy(_Record):
    """How one alias retries before it falls back: attempts in all (across its deployments),
    exponential backoff with full jitter between tries of the same deployment, and how long a
    Retry-After may be waited out when no other deployment can take the request."""

    max_attempts: int = Field(default=3, ge=1, le=20)
    backoff_base_s: float = Field(default=0.2, gt=0)
    backoff_max_s: float = Field(default=5.0, gt=0)
    max_retry_after_s: float = Field(default=5.0, ge=0)
    retry_on: list[RetryOn] = Field(default_factory=lambda: list(RetryOn))


class CircuitBreaker(_Record):
    """Open a deployment's circuit when `failure_rate` of at least `min_requests` calls in the
    last `window_s` failed (5xx, connect errors, timeouts); half-open after `open_s` to probe."""

    failure_rate: float = Field(default=0.5, gt=0, le=1)
    min_requests: int = Field(default=10, ge=1)
    window_s: float = Field(default=30.0, gt=0)
    open_s: float = Field(default=30.0, gt=0)


class Tenancy(StrEnum):
    """`per_request`: callers without a virtual key may bring their own Foundry resource and
    key with each request (the edge decodes them; nothing stores them)."""

    OFF = "off"
    PER_REQUEST = "per_request"


class Policy(_Record):
    """What one level (org, team or key) allows. Lists take glob patterns (`gpt-4*`); `None`
    means the level has no opinion. Levels are ceilings, so a narrower level can only narrow:
    allow lists intersect (a name must match every level's list), deny lists add up, the
    smallest cap wins, and `log_bodies: true` at any level holds over a `false` elsewhere. The
    token cap bounds all `n` answers of a request together."""

    allow_models: list[str] | None = None
    deny_models: list[str] = Field(default_factory=list)
    allow_endpoints: list[str] | None = None
    deny_endpoints: list[str] = Field(default_factory=list)
    max_tokens_cap: int | None = Field(default=None, gt=0)
    max_prompt_tokens: int | None = Field(default=None, gt=0)
    log_bodies: bool | None = Field(
        default=None,
        description="Store this level's request and response bodies, redacted (off by default).",
    )


class RateLimit(_Record):
    """Requests and tokens per minute; `None` is unlimited."""

    rpm: int | None = Field(default=None, gt=0)
    tpm: int | None = Field(default=None, gt=0)


class Limits(RateLimit):
    """Rate and concurrency limits of one level (org, team or key), enforced cluster-wide in
    Redis. `share` makes an unset rpm/tpm a fraction of the parent level's (a key's share of
    its team's, a team's of its org's). `models` adds limits per model alias within the level.
    """

    share: float | None = Field(default=None, gt=0, le=1)
    models: dict[str, RateLimit] = Field(default_factory=dict)
    max_parallel: int | None = Field(default=None, gt=0)
    max_parallel_per_client: int | None = Field(
        default=None, gt=0, description="Parallel requests per client IP and user agent."
    )

    def is_empty(self) -> bool:
        return self == EMPTY_LIMITS


EMPTY_LIMITS = Limits()


class ModelAlias(_Record):
    """A name clients send as `model`, mapped to the deployments that serve it."""

    # Not empty: the name is the record's KV key (base64), and NATS refuses an empty key.
    name: str = Field(min_length=1)
    deployments: list[Deployment] = Field(min_length=1)
    owned_by: str = "tollway"
    created: int = 0
    managed_by: str = ""
    tenancy: Tenancy = Tenancy.OFF
    tenant_limits: Limits = Field(
        default=EMPTY_LIMITS, description="The limits each per-request tenant gets."
    )
    tenant_deployments: list[Annotated[str, Field(pattern=_DEPLOYMENT_GLOB)]] = Field(
        default_factory=list,
        description="Globs of the Foundry deployment names a per-request tenant may call on "
        "its own resource; empty: only this entry's own deployments' models.",
    )
    tenant_deployments_deny: list[Annotated[str, Field(pattern=_DEPLOYMENT_GLOB)]] = Field(
        default_factory=list, description="Globs refused even when `tenant_deployments` allows."
    )
    strategy: RoutingStrategy = RoutingStrategy.WEIGHTED_ROUND_ROBIN
    fallbacks: list[str] = Field(
        default_factory=list, description="Aliases tried in order when every deployment failed."
    )
    context_window_fallbacks: list[str] = Field(
        default_factory=list, description="Aliases tried when the prompt does not fit."
    )
    content_policy_fallbacks: list[str] = Field(
        default_factory=list, description="Aliases tried when a content filter refused it."
    )
    retry: RetryPolicy = RetryPolicy()
    circuit_breaker: CircuitBreaker = CircuitBreaker()

    def admits_tenant_deployment(self, name: str) -> bool:
        """May a per-request tenant call its own Foundry deployment `name` through this entry?"""
        return (
            self.tenancy is Tenancy.PER_REQUEST
            and TENANT_DEPLOYMENT_PATTERN.match(name) is not None
            and any(fnmatchcase(name, glob) for glob in self.tenant_deployments)
            and not any(fnmatchcase(name, glob) for glob in self.tenant_deployments_deny)
        )

    def fallback_aliases(self) -> set[str]:
        return {*self.fallbacks, *self.context_window_fallbacks, *self.content_policy_fallbacks}

    @model_validator(mode="after")
    def _tenancy_is_for_foundry(self) -> ModelAlias:
        if self.tenancy is Tenancy.OFF:
            if self.tenant_deployments or self.tenant_deployments_deny:
                raise ValueError(
                    f"model {self.name!r}: tenant_deployments needs tenancy per_request"
                )
            return self
        for deployment in self.deployments:
            if not FACTS[deployment.provider].takes_tenancy or deployment.api_base is not None:
                raise ValueError(
                    f"model {self.name!r}: tenancy per_request needs Foundry deployments "
                    f"(provider {providers_with(lambda f: f.takes_tenancy)}, no api_base); "
                    f"{deployment.name!r} is not one"
                )
        return self


class BudgetPeriod(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    CUSTOM = "custom"
    TOTAL = "total"


class Budget(_Record):
    """Money a key, team or org may spend per period (UTC calendar periods; `custom` repeats
    every `period_days` from `starts_at`). `model` narrows it to one alias. At 100 % requests
    are refused with `insufficient_quota`, or sent to `downshift_to` when set."""

    budget_id: str = Field(pattern=ID_PATTERN)
    amount: Decimal = Field(gt=0)
    currency: str = "USD"
    period: BudgetPeriod = BudgetPeriod.MONTHLY
    period_days: int | None = Field(default=None, gt=0)
    starts_at: int = 0
    model: str | None = None
    soft_threshold: float = Field(default=0.8, gt=0, le=1)
    webhook_url: str | None = None
    downshift_to: str | None = None
    managed_by: str = ""

    @field_validator("webhook_url")
    @classmethod
    def _webhook_is_http(cls, value: str | None) -> str | None:
        return None if value is None else _check_http_url(value, "webhook_url")

    @model_validator(mode="after")
    def _custom_needs_days(self) -> Budget:
        if (self.period is BudgetPeriod.CUSTOM) != (self.period_days is not None):
            raise ValueError("period_days is set exactly when period is 'custom'")
        return self


class KeyRecord(_Record):
    """A virtual key as stored: its hash, a recognisable prefix, who owns it, what it may use.

    Times are Unix seconds; 0 means unset. A rotated key keeps working until its `expires_at`,
    the grace period the rotation chose.
    """

    key_id: str
    name: str
    key_hash: str
    prefix: str
    user_id: str = ""
    team_id: str = ""
    org_id: str = ""
    created_at: int = 0
    created_by: str = ""
    expires_at: int = 0
    revoked_at: int = 0
    rotated_to: str = ""
    metadata: dict[str, str] = Field(default_factory=dict)
    policy: Policy = Policy()
    limits: Limits = Limits()
    budget_ids: list[str] = Field(default_factory=list)
    managed_by: str = ""

    def usable_at(self, now: float) -> bool:
        if self.revoked_at and self.revoked_at <= now:
            return False
        return not (self.expires_at and self.expires_at <= now)


class _Owner(_Record):
    """What an org and a team both carry: a name, their policy, limits and budgets."""

    name: str = ""
    metadata: dict[str, str] = Field(default_factory=dict)
    policy: Policy = Policy()
    limits: Limits = Limits()
    budget_ids: list[str] = Field(default_factory=list)
    created_at: int = 0
    managed_by: str = ""


class OrgRecord(_Owner):
    org_id: str = Field(pattern=ID_PATTERN)


class TeamRecord(_Owner):
    team_id: str = Field(pattern=ID_PATTERN)
    org_id: str = Field(pattern=ID_PATTERN)


class UserRecord(_Record):
    user_id: str = Field(pattern=ID_PATTERN)
    org_id: str = Field(pattern=ID_PATTERN)
    team_id: str = ""
    name: str = ""
    email: str = ""
    roles: list[str] = Field(default_factory=list)
    created_at: int = 0
    managed_by: str = ""


class Price(_Record):
    """What one model alias costs, per million tokens, in `currency`. Cached reads and cache
    writes fall back to the input price when unset. Image and audio models may also cost per
    image made, per minute of audio heard and per million characters spoken (unset: those
    units cost nothing beyond the tokens). Batch lines cost `batch_multiplier` times as much
    when it is set. `version` names the price in usage rows."""

    model: str = Field(min_length=1)  # the record's KV key, as ModelAlias.name
    input_per_mtok: Decimal = Field(ge=0)
    output_per_mtok: Decimal = Field(ge=0)
    cached_read_per_mtok: Decimal | None = Field(default=None, ge=0)
    cache_write_per_mtok: Decimal | None = Field(default=None, ge=0)
    per_image: Decimal | None = Field(default=None, ge=0)
    per_audio_minute: Decimal | None = Field(default=None, ge=0)
    per_mchar: Decimal | None = Field(default=None, ge=0)
    # What a batch line (`/v1/batches`) costs as a share of the price above (OpenAI's batch
    # API: 0.5); unset, batch lines cost what live requests do.
    batch_multiplier: Decimal | None = Field(default=None, ge=0)
    currency: str = "USD"
    version: str = ""
    managed_by: str = ""


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def key_prefix(secret: str) -> str:
    return secret[:KEY_PREFIX_LENGTH]


def kv_key_for_alias(alias: str) -> str:
    """KV keys allow only `[-/_=.a-zA-Z0-9]`; aliases such as `llama3.1:8b` need encoding."""
    return base64.urlsafe_b64encode(alias.encode()).decode()


def encode_record(record: BaseModel) -> bytes:
    return orjson.dumps(record.model_dump(mode="json"))


def decode_model_alias(data: bytes) -> ModelAlias:
    return ModelAlias.model_validate_json(data)


def decode_key_record(data: bytes) -> KeyRecord:
    return KeyRecord.model_validate_json(data)


def decode_price(data: bytes) -> Price:
    return Price.model_validate_json(data)
