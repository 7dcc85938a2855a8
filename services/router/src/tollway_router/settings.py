"""Router process settings (`TOLLWAY_ROUTER_*`, nested with `__`)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tollway_common.settings import LogSettings, NatsSettings

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


class RouterSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TOLLWAY_ROUTER_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    nats: NatsSettings = NatsSettings()
    log: LogSettings = LogSettings()
    router_id: str = ""
    max_inflight: int = Field(default=512, ge=1)
    heartbeat_interval_s: float = Field(default=1.0, gt=0)
    drain_grace_s: float = Field(default=30.0, ge=0)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    max_connections: int = Field(default=1000, ge=1)
    # Where a Foundry resource's Claude lives; `{resource}` is replaced by a validated resource
    # name (one DNS label). Tests point it at a loopback fake.
    foundry_base_url: str = FOUNDRY_BASE_URL
    token_timeout_s: float = Field(default=30.0, gt=0)
    managed_identity: ManagedIdentitySettings = Field(default_factory=ManagedIdentitySettings)

    @field_validator("foundry_base_url")
    @classmethod
    def _has_one_resource_placeholder(cls, value: str) -> str:
        if value.count("{resource}") != 1 or value.replace("{resource}", "").count("{") > 0:
            raise ValueError("foundry_base_url must contain '{resource}' exactly once")
        return value
