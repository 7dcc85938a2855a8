"""A breaking change to a wire model shows up here as a diff in review.

After an intended, additive change, regenerate with:
    TOLLWAY_UPDATE_SNAPSHOTS=1 make test-unit
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pydantic import BaseModel

from tollway_common import contract

SNAPSHOTS = Path(__file__).parent / "snapshots"
MODELS: list[type[BaseModel]] = [
    contract.InferRequest,
    contract.FinalReply,
    contract.ErrorReply,
    contract.UsageEvent,
    contract.AnalyticsQuery,
    contract.AnalyticsReply,
    contract.RequestLogQuery,
    contract.RequestDetailReply,
    contract.DeploymentHealth,
    contract.ResponseStoreQuery,
    contract.ClientSessionQuery,
    contract.ClientSessionsReply,
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_wire_schema_matches_its_snapshot(model: type[BaseModel]) -> None:
    path = SNAPSHOTS / f"{model.__name__}.json"
    current = json.dumps(model.model_json_schema(), indent=2, sort_keys=True) + "\n"
    if os.environ.get("TOLLWAY_UPDATE_SNAPSHOTS") == "1":
        path.write_text(current)
    assert path.read_text() == current
