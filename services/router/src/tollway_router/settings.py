"""Router process settings (`TOLLWAY_ROUTER_*`, nested with `__`)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tollway_common.redaction import custom_rules
from tollway_common.settings import LogSettings, NatsSettings


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
    # A credential the upstream rejected is probed with one live request after this long.
    invalid_probe_after_s: float = Field(default=300.0, gt=0)
    idle_sweep_interval_s: float = Field(default=60.0, gt=0)
    body_log: BodyLogSettings = BodyLogSettings()
