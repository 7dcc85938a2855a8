"""Settings blocks every service composes into its own `BaseSettings` class."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NatsSettings(_Block):
    url: str = "nats://127.0.0.1:4222"
    connect_timeout_s: float = 5.0
    # JetStream replicas for the streams and buckets a service creates: 1 on a laptop, 3 in a
    # cluster.
    replicas: int = Field(default=1, ge=1, le=5)


class RedisSettings(_Block):
    url: str = "redis://127.0.0.1:6379/0"
    # A limits call slower than this counts as Redis being unavailable.
    timeout_s: float = Field(default=0.5, gt=0)


class LogSettings(_Block):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_format: bool = True
