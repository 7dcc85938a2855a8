"""The declarative configuration file: models with their deployments, and bootstrap keys.

Admin loads it into NATS KV at start and whenever the file changes; edge and router never
read it, they watch KV.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tollway_common.control import SECRET_REF_PATTERN, ModelAlias


class BootstrapKey(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    secret: str = Field(description="A secret reference (env:NAME or file:/path) to the key.")
    models: list[str] | None = None
    user_id: str = ""
    team_id: str = ""
    org_id: str = ""

    @model_validator(mode="after")
    def _secret_is_reference(self) -> BootstrapKey:
        if not SECRET_REF_PATTERN.match(self.secret):
            raise ValueError(
                f"key {self.name!r}: secret must be a reference like 'env:TOLLWAY_DEV_API_KEY',"
                " never the key itself"
            )
        return self


class TollwayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    models: list[ModelAlias] = Field(default_factory=list)
    keys: list[BootstrapKey] = Field(default_factory=list)

    @model_validator(mode="after")
    def _names_are_unique(self) -> TollwayConfig:
        _require_unique("model", [m.name for m in self.models])
        _require_unique("deployment", [d.name for m in self.models for d in m.deployments])
        _require_unique("key", [k.name for k in self.keys])
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
