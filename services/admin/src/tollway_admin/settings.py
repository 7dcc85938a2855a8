"""Admin process settings (`TOLLWAY_ADMIN_*`, nested with `__`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from tollway_admin.security import Role
from tollway_common.oidc import OidcSettings
from tollway_common.settings import HttpLimits, LogSettings, NatsSettings


class AdminSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TOLLWAY_ADMIN_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    host: str = "127.0.0.1"
    # Host names the admin is reached by (JSON list; `*.example.com` matches subdomains, `*`
    # any); IP addresses always pass. Others get 400, which defeats DNS rebinding.
    trusted_hosts: list[str] = Field(default_factory=lambda: ["localhost", "admin"])
    port: int = 8081
    # Request head deadline and size, body deadline, keep-alive, concurrency
    # (TOLLWAY_ADMIN_HTTP__HEADER_TIMEOUT_S and so on).
    http: HttpLimits = HttpLimits(max_concurrency=256)
    nats: NatsSettings = NatsSettings()
    log: LogSettings = LogSettings()
    config_file: Path | None = None
    # How often the config file is checked for edits; 0 turns live reload off.
    config_poll_s: float = Field(default=1.0, ge=0)
    # The bootstrap admin token; callers send it as `Authorization: Bearer <token>`.
    token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("TOLLWAY_ADMIN_TOKEN", "token")
    )
    # Sign-in by OIDC bearer tokens (Entra ID or any issuer with a JWKS); off without an issuer.
    oidc: OidcSettings = OidcSettings()
    # Issuer role names mapped onto admin, viewer, team-admin (e.g. {"Tollway.Admin": "admin"});
    # once set, only the names it maps grant a role.
    oidc_admin_roles: dict[str, Role] = Field(default_factory=dict)
    # The token read from a file at start (compose generates one) when `token` is unset.
    token_file: Path | None = None
    # Signs the admin UI's session cookies; set the same value on every admin replica. It is
    # independent of the admin token. Unset: random per process (sessions end at a restart).
    session_secret: SecretStr | None = None
    session_secret_file: Path | None = None
    # Serve the API's interactive docs (/docs) and OpenAPI document (/openapi.json): off in
    # production, `make run` turns it on.
    api_docs: bool = False
    # Send the session cookie only over HTTPS; turn off only for http://localhost.
    cookie_secure: bool = True
    # Browser sign-in with the issuer's login page (authorization code with PKCE).
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    # Defaults to <the admin URL the browser used>/admin/oidc/callback.
    oidc_redirect_url: str | None = None

    def admin_token(self) -> str | None:
        return _value_or_file(self.token, self.token_file)

    def signing_secret(self) -> str | None:
        return _value_or_file(self.session_secret, self.session_secret_file)


def _value_or_file(value: SecretStr | None, path: Path | None) -> str | None:
    """A value set directly wins (Helm's admin Secret over the generated file)."""
    if value is not None:
        return value.get_secret_value()
    if path is not None:
        return path.read_text().strip() or None
    return None
