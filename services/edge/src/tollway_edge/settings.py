"""Edge process settings (`TOLLWAY_EDGE_*`, nested with `__`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tollway_common.settings import LogSettings, NatsSettings, RedisSettings


class EdgeSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TOLLWAY_EDGE_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = Field(default=1, ge=1)
    nats: NatsSettings = NatsSettings()
    redis: RedisSettings = RedisSettings()
    log: LogSettings = LogSettings()
    max_body_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    request_timeout_s: float = Field(default=600.0, gt=0)
    # Routers send a heartbeat every second while a request runs; this many seconds of silence
    # means the router is gone.
    idle_timeout_s: float = Field(default=5.0, gt=0)
