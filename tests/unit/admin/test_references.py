from __future__ import annotations

from tollway_admin.references import ControlState, new_problems
from tollway_common.control import Deployment, ModelAlias


def _state(*models: ModelAlias) -> ControlState:
    return ControlState(
        orgs={},
        teams={},
        users={},
        models={m.name: m for m in models},
        prices={},
        budgets={},
        keys={},
    )


def _model(name: str, **fields: object) -> ModelAlias:
    deployment = Deployment(name=f"{name}-d", provider="fake", model="x")
    return ModelAlias.model_validate({"name": name, "deployments": [deployment], **fields})


def test_fallbacks_must_name_models_that_exist() -> None:
    before = _state(_model("big"))
    after = _state(
        _model("big"),
        _model("small", fallbacks=["big", "huge"], context_window_fallbacks=["giant"]),
    )
    assert new_problems(before, after) == [
        "model 'small' falls back to unknown model 'giant'",
        "model 'small' falls back to unknown model 'huge'",
    ]


def test_a_model_cannot_fall_back_to_itself() -> None:
    assert new_problems(_state(), _state(_model("m", content_policy_fallbacks=["m"]))) == [
        "model 'm' names itself as a fallback"
    ]
