"""Edge process settings (`TOLLWAY_EDGE_*`, nested with `__`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tollway_common.oidc import OidcSettings
from tollway_common.settings import HttpLimits, LogSettings, NatsSettings, RedisSettings

FailureMode = Literal["open", "closed"]


class RedisFailureModes(BaseModel):
    """Per kind of limit, what a request meets when Redis cannot be reached: admitted without
    that kind of limit (open) or refused with 503 `limits_unavailable` (closed). A request
    under several kinds is refused when any of them is closed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Requests per minute.
    requests: FailureMode = "open"
    # Tokens per minute.
    tokens: FailureMode = "open"
    # Parallel requests per key/team/org and per client.
    concurrency: FailureMode = "open"
    # Spend: failing open would let a budget be overrun without anyone knowing.
    budgets: FailureMode = "closed"


class LimitsSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # TOLLWAY_EDGE_LIMITS__ON_REDIS_ERROR__BUDGETS=closed and so on.
    on_redis_error: RedisFailureModes = RedisFailureModes()
    # A model with no price under a budget: allow it and raise an alarm, or refuse it.
    unpriced_model: Literal["allow", "refuse"] = "allow"
    # An alias the operator has not priced takes the built-in catalog's price (genai-prices) of
    # the dearest model its deployments run; off: it is unpriced until priced in admin.
    price_catalog: bool = True
    # Reserved, and sent upstream, when a limited request names no max_tokens.
    default_max_tokens: int = Field(default=4096, gt=0)


class MetricsSettings(BaseModel):
    """Where Prometheus scrapes the edge: a port of its own, never the public API port."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    host: str = "127.0.0.1"
    # 0 takes a free port and logs it.
    port: int = Field(default=9464, ge=0, le=65535)


class EdgeSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TOLLWAY_EDGE_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    host: str = "127.0.0.1"
    # Host names clients reach the edge by (JSON list; `*.example.com` matches subdomains, `*`
    # any); IP addresses always pass. The default fits `make run` and compose.
    trusted_hosts: list[str] = Field(default_factory=lambda: ["localhost", "edge"])
    # TLS is off unless both are set (or given as --certfile / --keyfile).
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    port: int = 8080
    workers: int = Field(default=1, ge=1)
    nats: NatsSettings = NatsSettings()
    redis: RedisSettings = RedisSettings()
    log: LogSettings = LogSettings()
    max_body_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    # Deepest nesting of arrays and objects a request body may have.
    max_json_depth: int = Field(default=64, ge=2, le=512)
    # Request head deadline and size, body deadline, keep-alive, concurrency
    # (TOLLWAY_EDGE_HTTP__HEADER_TIMEOUT_S and so on).
    http: HttpLimits = HttpLimits()
    request_timeout_s: float = Field(default=600.0, gt=0)
    # Routers send a heartbeat every second while a request runs; this many seconds of silence
    # means the router is gone.
    # Accept OIDC bearer tokens (Entra ID or any issuer with a JWKS) next to virtual keys.
    oidc: OidcSettings = OidcSettings()
    # The team (and its org) whose policy, limits and budgets hold a token caller whose team and
    # org claims name no record; unset, such a caller is refused with 403.
    oidc_default_team: str | None = None
    limits: LimitsSettings = LimitsSettings()
    # Keys the hash under which client IPs are stored: a secret of the install, the same on
    # every edge so one client hashes alike everywhere (`make run`, compose and Helm generate
    # one). Unset: random per process, so the per-client limit and usage rows cannot link a
    # client across edges or restarts.
    client_ip_salt: SecretStr | None = None
    # The salt read from a file at start instead (compose generates one).
    client_ip_salt_file: Path | None = None
    idle_timeout_s: float = Field(default=5.0, gt=0)
    # Files (`/v1/files`): the largest upload, apart from the inference body limit above.
    max_file_bytes: int = Field(default=200 * 1024 * 1024, gt=0)
    # Batches (`/v1/batches`): the most lines one input file may hold (OpenAI's limit).
    max_batch_lines: int = Field(default=50_000, ge=1)
    # /metrics (TOLLWAY_EDGE_METRICS__ENABLED, __HOST, __PORT).
    metrics: MetricsSettings = MetricsSettings()
    # With several workers: the folder where each keeps its metrics for /metrics to sum
    # (prometheus_client's multiprocess mode). Emptied at start; default a new temporary one.
    metrics_dir: Path | None = None

    @property
    def multiprocess_metrics_dir(self) -> Path | None:
        return self.metrics_dir if self.workers > 1 else None

    def configured_ip_salt(self) -> bytes | None:
        if self.client_ip_salt_file is not None:
            return self.client_ip_salt_file.read_bytes().strip() or None
        if self.client_ip_salt is None:
            return None
        return self.client_ip_salt.get_secret_value().encode()

    @model_validator(mode="after")
    def _tls_needs_both(self) -> EdgeSettings:
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError("TLS needs both a certificate file and a key file")
        return self
