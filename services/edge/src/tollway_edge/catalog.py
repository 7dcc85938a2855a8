"""The edge's live view of the control plane, mirrored from NATS KV: model aliases, keys, the
teams and orgs whose policies and limits apply to them, budgets and prices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tollway_common.control import (
    Budget,
    KeyRecord,
    ModelAlias,
    OrgRecord,
    Price,
    TeamRecord,
    kv_key_for_alias,
)
from tollway_common.errors import ModelNotFound
from tollway_common.kv_mirror import KvMirror


@dataclass(frozen=True)
class Catalog:
    models: KvMirror[ModelAlias]
    keys: KvMirror[KeyRecord]
    teams: KvMirror[TeamRecord]
    orgs: KvMirror[OrgRecord]
    budgets: KvMirror[Budget]
    prices: KvMirror[Price]

    def resolve(self, alias: str) -> ModelAlias:
        model = self.models.items.get(kv_key_for_alias(alias))
        if model is None:
            raise ModelNotFound(
                f"The model '{alias}' does not exist on this gateway; "
                "GET /v1/models lists the models your key can use.",
                param="model",
            )
        return model

    def all_models(self) -> list[ModelAlias]:
        return sorted(self.models.items.values(), key=lambda model: model.name)

    def mirrors(self) -> tuple[KvMirror[Any], ...]:
        return (self.models, self.keys, self.teams, self.orgs, self.budgets, self.prices)
