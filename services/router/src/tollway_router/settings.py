"""Router process settings (`TOLLWAY_ROUTER_*`, nested with `__`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tollway_common.settings import LogSettings, MonitorSettings, NatsSettings


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
