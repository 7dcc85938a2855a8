"""Settings blocks every service composes into its own `BaseSettings` class."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NatsSettings(_Block):
    """How a service reaches NATS and who it is there (docs/security-nats.md).

    The bus is closed: give a user and password, a `.creds` file or an nkey seed file. TLS is
    on when the URL is `tls://` or a CA file is set; a client certificate is optional.
    """

    # One URL, or the seed URLs of a cluster separated by commas.
    url: str = "nats://127.0.0.1:4222"
    connect_timeout_s: float = 5.0
    user: str = ""
    password: SecretStr = SecretStr("")
    # The password read from a file at connect time (compose and Helm mount one per service).
    password_file: Path | None = None
    creds_file: Path | None = None
    nkey_seed_file: Path | None = None
    tls_ca_file: Path | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    # JetStream replicas for the streams and buckets a service creates: 1 on a laptop, 3 in a
    # cluster.
    replicas: int = Field(default=1, ge=1, le=5)


class RedisSettings(_Block):
    """How the edge reaches Redis and who it is there (docs/security.md).

    Give a password (and an ACL user) here or in the URL; compose and Helm mount a password
    file. TLS is on when the URL is `rediss://` or a CA file is set; a client certificate is
    optional.
    """

    # standalone: one server at `url`. sentinel: the primary that `sentinels` know as
    # `master_name`, found again after a failover. cluster: a Redis Cluster reached through
    # `cluster_nodes` (any reachable seed finds the rest).
    mode: Literal["standalone", "sentinel", "cluster"] = "standalone"
    url: str = "redis://127.0.0.1:6379/0"
    # host:port pairs separated by commas.
    sentinels: str = ""
    master_name: str = "mymaster"
    # The sentinels' own password, when they have one (`requirepass` in sentinel.conf).
    sentinel_password: SecretStr = SecretStr("")
    # host:port pairs separated by commas.
    cluster_nodes: str = ""
    # A limits call slower than this counts as Redis being unavailable.
    timeout_s: float = Field(default=0.5, gt=0)
    # Connections one edge process keeps (standalone mode); a call finding them all busy
    # waits for one up to `timeout_s` instead of failing at once.
    max_connections: int = Field(default=128, ge=1)
    # A pooled connection unused this long is closed (a few are kept); a burst's extra
    # connections do not stay open for good. 0 keeps them all. Not in cluster mode.
    idle_timeout_s: float = Field(default=60.0, ge=0)
    username: str = ""
    password: SecretStr = SecretStr("")
    # The password read from a file at connect time.
    password_file: Path | None = None
    tls_ca_file: Path | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None

    @model_validator(mode="after")
    def _addresses_for_the_mode(self) -> RedisSettings:
        if self.mode == "sentinel":
            parse_addresses(self.sentinels, "sentinels")
            if not self.master_name:
                raise ValueError("sentinel mode needs a master_name")
        if self.mode == "cluster":
            parse_addresses(self.cluster_nodes, "cluster_nodes")
        return self

    @property
    def tls(self) -> bool:
        return self.url.startswith("rediss://") or self.tls_ca_file is not None


def parse_addresses(text: str, what: str) -> list[tuple[str, int]]:
    """`host:port,host:port` as pairs; at least one, each port in range.

    Raises:
        ValueError: the list is empty or an entry is not host:port.
    """
    pairs: list[tuple[str, int]] = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        host, sep, port = entry.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{what}: {entry!r} is not host:port")
        pairs.append((host.strip("[]"), int(port)))
    if not pairs:
        raise ValueError(f"{what}: give at least one host:port")
    return pairs


class LogSettings(_Block):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_format: bool = True


class MonitorSettings(_Block):
    """The small HTTP server of the services without an HTTP API (router, metering): /healthz,
    /readyz and /metrics. Off unless enabled (the images, compose, Helm and `make run` turn it
    on); port 0 takes a free port and logs it."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=9090, ge=0, le=65535)


class OtelSettings(BaseSettings):
    """The standard OpenTelemetry variables that decide whether traces are exported at all.

    Tracing is off unless they ask for it: `OTEL_TRACES_EXPORTER` names an exporter (`otlp`,
    `console`), or an OTLP endpoint is set; `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`
    turn it off. Everything else (endpoint, headers, sampler, batch sizes, resource attributes,
    service name) the OpenTelemetry SDK reads itself.
    """

    model_config = SettingsConfigDict(env_prefix="OTEL_", extra="ignore", frozen=True)

    sdk_disabled: bool = False
    traces_exporter: str = ""
    exporter_otlp_endpoint: str = ""
    exporter_otlp_traces_endpoint: str = ""
    exporter_otlp_protocol: str = ""
    exporter_otlp_traces_protocol: str = ""

    def exporters(self) -> list[str]:
        """The span exporters asked for, in order; empty means tracing is off."""
        if self.sdk_disabled:
            return []
        named = [name.strip().lower() for name in self.traces_exporter.split(",") if name.strip()]
        if not named:
            configured = self.exporter_otlp_endpoint or self.exporter_otlp_traces_endpoint
            return ["otlp"] if configured else []
        return [name for name in named if name != "none"]

    @property
    def protocol(self) -> str:
        return self.exporter_otlp_traces_protocol or self.exporter_otlp_protocol or "http/protobuf"


class HttpLimits(_Block):
    """What one HTTP connection may cost the server before the app sees a request: a client
    that sends its request head slowly, or a huge one, or opens connections without end, is cut
    off here (uvicorn alone read a 20 MB header and kept a trickling connection 80 s)."""

    # From connection open (or the previous response) until the request head is complete.
    header_timeout_s: float = Field(default=10.0, gt=0)
    # Request line plus headers; larger heads get 431.
    max_header_bytes: int = Field(default=64 * 1024, ge=1024)
    # The whole request body; a slower body gets 408.
    body_timeout_s: float = Field(default=60.0, gt=0)
    # Idle time between two requests on one connection.
    keep_alive_s: float = Field(default=5.0, gt=0)
    # Open connections plus running requests; more are answered 503 at once.
    max_concurrency: int = Field(default=4096, ge=1)
