"""The declarative configuration document: organisations, teams, users, models with their
deployments, prices and keys.

Admin loads it from its config file at start and whenever the file changes, and
`tollway apply -f` sends the same document to the admin API; edge and router never read it,
they watch KV. Keys are declared by a secret reference (resolved only to be hashed) or by the
hash itself, which is what `tollway export` writes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tollway_common.control import (
    SECRET_REF_PATTERN,
    Budget,
    Limits,
    ModelAlias,
    OrgRecord,
    Policy,
    Price,
    TeamRecord,
    UserRecord,
)

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}\Z")


class BootstrapKey(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    secret: str | None = Field(
        default=None, description="A secret reference (env:NAME or file:/path) to the key."
    )
    key_hash: str | None = Field(default=None, description="The key's SHA-256, hex.")
    models: list[str] | None = Field(default=None, description="Shorthand for policy.allow_models.")
    policy: Policy = Policy()
    limits: Limits = Limits()
    budget_ids: list[str] = Field(default_factory=list)
    metadata: dict[str, str] = Field(default_factory=dict)
    user_id: str = ""
    team_id: str = ""
    org_id: str = ""
    expires_at: int = 0

    @model_validator(mode="after")
    def _secret_is_reference(self) -> BootstrapKey:
        if (self.secret is None) == (self.key_hash is None):
            raise ValueError(f"key {self.name!r}: give exactly one of secret or key_hash")
        if self.secret is not None and not SECRET_REF_PATTERN.match(self.secret):
            raise ValueError(
                f"key {self.name!r}: secret must be a reference like 'env:TOLLWAY_DEV_API_KEY',"
                " never the key itself"
            )
        if self.key_hash is not None and not _SHA256_HEX.match(self.key_hash):
            raise ValueError(f"key {self.name!r}: key_hash must be 64 lowercase hex digits")
        if self.models is not None and self.policy.allow_models is not None:
            raise ValueError(f"key {self.name!r}: give models or policy.allow_models, not both")
        return self

    def effective_policy(self) -> Policy:
        if self.models is None:
            return self.policy
        return self.policy.model_copy(update={"allow_models": self.models})


class TollwayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    orgs: list[OrgRecord] = Field(default_factory=list)
    teams: list[TeamRecord] = Field(default_factory=list)
    users: list[UserRecord] = Field(default_factory=list)
    models: list[ModelAlias] = Field(default_factory=list)
    prices: list[Price] = Field(default_factory=list)
    budgets: list[Budget] = Field(default_factory=list)
    keys: list[BootstrapKey] = Field(default_factory=list)

    @model_validator(mode="after")
    def _names_are_unique(self) -> TollwayConfig:
        _require_unique("org", [o.org_id for o in self.orgs])
        _require_unique("team", [t.team_id for t in self.teams])
        _require_unique("user", [u.user_id for u in self.users])
        _require_unique("model", [m.name for m in self.models])
        _require_unique("deployment", [d.name for m in self.models for d in m.deployments])
        _require_unique("price", [p.model for p in self.prices])
        _require_unique("budget", [b.budget_id for b in self.budgets])
        known = {m.name for m in self.models}
        for key in self.keys:
            unknown = sorted(set(key.models or []) - known)
            if unknown:
                raise ValueError(f"key {key.name!r} allows unknown models: {', '.join(unknown)}")
        return self


def _require_unique(kind: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{kind} name {name!r} is defined twice")
        seen.add(name)


class ConfigError(ValueError):
    pass


def parse_config(text: str, source: str = "<config>") -> TollwayConfig:
    try:
        raw: Any = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    try:
        return TollwayConfig.model_validate(raw)
    except ValueError as exc:
        raise ConfigError(f"{source}: {exc}") from exc


def load_config(path: Path) -> TollwayConfig:
    return parse_config(path.read_text(), str(path))
