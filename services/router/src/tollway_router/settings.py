"""Router process settings (`TOLLWAY_ROUTER_*`, nested with `__`)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tollway_common.control import is_secret_reference
from tollway_common.settings import LogSettings, MonitorSettings, NatsSettings
from tollway_router.body_log.redaction import custom_rules
from tollway_router.responses.records import Share

FOUNDRY_BASE_URL = "https://{resource}.services.ai.azure.com/anthropic/"
IMDS_TOKEN_URL = "http://169.254.169.254/metadata/identity/oauth2/token"


class ManagedIdentitySettings(BaseSettings):
    """Where this machine's managed identity hands out tokens. Azure sets these variables
    itself (App Service and Functions: IDENTITY_ENDPOINT and IDENTITY_HEADER; older hosts and
    Cloud Shell: MSI_ENDPOINT and MSI_SECRET); without them the VM's IMDS answers."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    identity_endpoint: str | None = Field(default=None, validation_alias="IDENTITY_ENDPOINT")
    identity_header: SecretStr | None = Field(default=None, validation_alias="IDENTITY_HEADER")
    msi_endpoint: str | None = Field(default=None, validation_alias="MSI_ENDPOINT")
    msi_secret: SecretStr | None = Field(default=None, validation_alias="MSI_SECRET")
    imds_url: str = Field(
        default=IMDS_TOKEN_URL,
        validation_alias="TOLLWAY_ROUTER_IMDS_URL",
    )


class BodyLogMode(StrEnum):
    """`off`: never log bodies, whatever a policy says; `policy`: only for callers whose org,
    team or key policy sets `log_bodies: true`; `all`: everyone except where a policy sets
    `log_bodies: false`."""

    OFF = "off"
    POLICY = "policy"
    ALL = "all"


class BodyLogSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: BodyLogMode = BodyLogMode.POLICY
    # Each stored body is cut to this many bytes (UTF-8) after redaction.
    max_body_bytes: int = Field(default=32 * 1024, ge=256, le=256 * 1024)
    # How much of a reply is held while it is sent, before it is assembled and cut.
    capture_limit_bytes: int = Field(default=256 * 1024, ge=1024)
    # Bodies waiting to be redacted and published; beyond this they are dropped, never waited on.
    queue_size: int = Field(default=1000, ge=1)
    # Extra redaction rules, name -> regular expression; matches become [REDACTED:<name>].
    redact_patterns: dict[str, str] = Field(default_factory=dict)

    @field_validator("redact_patterns")
    @classmethod
    def _patterns_compile(cls, value: dict[str, str]) -> dict[str, str]:
        custom_rules(value)
        return value


class ResponsesSettings(BaseModel):
    """The Responses API store (`TOLLWAY_ROUTER_RESPONSES__TTL_S`, `__SHARE`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # How long a stored response (and the conversation it continues) can be read or continued.
    ttl_s: float = Field(default=30 * 24 * 3600.0, gt=0)
    # Who may read a stored response besides the key (or OIDC user) that made it.
    share: Share = Share.KEY


class BatchSettings(BaseModel):
    """How this router drains batch lines (`/v1/batches`): at most `concurrency` lines at
    once, of them at most `per_model` for one model alias; a line the upstream refuses with
    429 or 503 waits `retry_delay_s` (times its attempt) and is tried again, up to
    `max_attempts` deliveries. `ack_wait_s` is how long a router that died holding a line
    keeps it from the others; a line in progress keeps extending it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    concurrency: int = Field(default=16, ge=1)
    per_model: int = Field(default=8, ge=1)
    max_attempts: int = Field(default=5, ge=1)
    retry_delay_s: float = Field(default=10.0, ge=0)
    ack_wait_s: float = Field(default=60.0, ge=1)
    line_timeout_s: float = Field(default=600.0, gt=0)


class OAuthSettings(BaseModel):
    """OAuth accounts shared by the routers (`TOLLWAY_ROUTER_OAUTH__ENCRYPTION_KEY`, ...).

    `encryption_key` is a secret reference (`env:NAME`, `file:/path`) to one or more Fernet
    keys (the first seals, all open: rotation). With it, refresh-token accounts keep their
    rotated tokens in NATS KV, sealed, and one router refreshes each at a time; without it,
    each router keeps them in memory (lost on restart, raced by a second router).
    `refresh_interval_s` is how often idle accounts are checked and refreshed ahead of expiry.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    encryption_key: str | None = None
    refresh_interval_s: float = Field(default=5.0, gt=0)

    @field_validator("encryption_key")
    @classmethod
    def _key_is_a_reference(cls, value: str | None) -> str | None:
        if value is not None and not is_secret_reference(value):
            raise ValueError(
                "oauth.encryption_key must be a secret reference like 'env:NAME' or "
                "'file:/path', never the key itself"
            )
        return value


class RouterSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TOLLWAY_ROUTER_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    nats: NatsSettings = NatsSettings()
    log: LogSettings = LogSettings()
    # /healthz, /readyz and /metrics over HTTP (TOLLWAY_ROUTER_MONITOR__ENABLED, __HOST, __PORT).
    monitor: MonitorSettings = MonitorSettings()
    router_id: str = ""
    max_inflight: int = Field(default=512, ge=1)
    heartbeat_interval_s: float = Field(default=1.0, gt=0)
    drain_grace_s: float = Field(default=30.0, ge=0)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    max_connections: int = Field(default=1000, ge=1)
    # A credential the upstream rejected is probed with one live request after this long.
    invalid_probe_after_s: float = Field(default=300.0, gt=0)
    idle_sweep_interval_s: float = Field(default=60.0, gt=0)
    body_log: BodyLogSettings = BodyLogSettings()
    responses: ResponsesSettings = ResponsesSettings()
    # TOLLWAY_ROUTER_BATCH__CONCURRENCY and so on.
    batch: BatchSettings = BatchSettings()
    # Where a Foundry resource's Claude lives; `{resource}` is replaced by a validated resource
    # name (one DNS label). Tests point it at a loopback fake.
    foundry_base_url: str = FOUNDRY_BASE_URL
    token_timeout_s: float = Field(default=30.0, gt=0)
    managed_identity: ManagedIdentitySettings = Field(default_factory=ManagedIdentitySettings)
    oauth: OAuthSettings = OAuthSettings()

    @field_validator("foundry_base_url")
    @classmethod
    def _has_one_resource_placeholder(cls, value: str) -> str:
        if value.count("{resource}") != 1 or value.replace("{resource}", "").count("{") > 0:
            raise ValueError("foundry_base_url must contain '{resource}' exactly once")
        return value
