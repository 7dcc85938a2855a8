"""Which secret references an upstream credential may name: the allow-list (pure).

A model record is written through the admin API, so whoever may write one must not be able to
name any secret of the process that resolves it (`env:TOLLWAY_ADMIN_TOKEN` with their own
`api_base` sent the admin token to their server). Admin checks the allow-list when a record is
written; `secret_refs.py` checks it again where the router resolves the reference. The launcher
hands the router exactly the environment variables the allow-list names.
"""

from __future__ import annotations

import os
from pathlib import PurePosixPath
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# The names the README, the sample config and the provider docs use; anything else goes under
# the prefix.
DEFAULT_ENV_NAMES = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "AZURE_OPENAI_API_KEY",
    "FOUNDRY_API_KEY",
    "AZURE_CLIENT_SECRET",
)
DEFAULT_ENV_PREFIXES = ("TOLLWAY_UPSTREAM_",)
DEFAULT_SECRETS_DIR = "/run/secrets"


class SecretPolicy(BaseSettings):
    """`TOLLWAY_SECRETS_ENV_PREFIXES` and `TOLLWAY_SECRETS_ENV_NAMES` (comma-separated) and
    `TOLLWAY_SECRETS_DIR` (empty: no `file:` references at all)."""

    model_config = SettingsConfigDict(env_prefix="TOLLWAY_SECRETS_", extra="ignore", frozen=True)

    env_prefixes: Annotated[tuple[str, ...], NoDecode] = DEFAULT_ENV_PREFIXES
    env_names: Annotated[tuple[str, ...], NoDecode] = DEFAULT_ENV_NAMES
    dir: str = Field(default=DEFAULT_SECRETS_DIR)

    @field_validator("env_prefixes", "env_names", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("env_prefixes")
    @classmethod
    def _prefixes_are_not_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # An empty prefix would allow every variable, the admin token included.
        if any(not prefix for prefix in value):
            raise ValueError("an env prefix must not be empty")
        return value

    @field_validator("dir")
    @classmethod
    def _dir_is_absolute(cls, value: str) -> str:
        if value and not value.startswith("/"):
            raise ValueError(f"TOLLWAY_SECRETS_DIR must be an absolute path, not {value!r}")
        return value.rstrip("/") or ("/" if value else "")

    def env_allowed(self, name: str) -> bool:
        return name in self.env_names or any(name.startswith(p) for p in self.env_prefixes)

    def file_allowed(self, path: str) -> bool:
        """`path` as written: absolute, no `..`, under the directory. The resolver checks the
        real path (symlinks followed) again."""
        if not self.dir or not path.startswith("/") or os.path.normpath(path) != path:
            return False
        return PurePosixPath(self.dir) in PurePosixPath(path).parents

    def refusal(self, reference: str) -> str | None:
        """Why `reference` may not be used, or None when it may."""
        scheme, _, locator = reference.partition(":")
        if scheme == "env" and self.env_allowed(locator):
            return None
        if scheme == "file" and self.file_allowed(locator):
            return None
        return f"the secret reference {reference!r} is not allowed; {self.allowed_forms()}"

    def allowed_forms(self) -> str:
        names = ", ".join(self.env_names) or "none"
        prefixes = ", ".join(f"{p}*" for p in self.env_prefixes) or "none"
        files = f"file:{self.dir}/<name>" if self.dir else "no file: references"
        return (
            f"allowed are env:<NAME> with NAME one of {names} or matching {prefixes}, "
            f"and {files} (TOLLWAY_SECRETS_ENV_PREFIXES, TOLLWAY_SECRETS_ENV_NAMES, "
            "TOLLWAY_SECRETS_DIR)"
        )
