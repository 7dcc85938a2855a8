"""Router process settings (`TOLLWAY_ROUTER_*`, nested with `__`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tollway_common.settings import LogSettings, NatsSettings


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
