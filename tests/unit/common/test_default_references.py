"""The configurations Tollway ships name only upstream secrets the default allow-list takes,
so `make run`, the README and the Helm examples work without configuring it."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tollway_common.config_file import TollwayConfig, parse_config
from tollway_common.secret_policy import SecretPolicy

ROOT = Path(__file__).parents[3]


def _readme() -> TollwayConfig:
    blocks = re.findall(r"```yaml\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.DOTALL)
    return parse_config(blocks[0], "README.md")


def _helm(path: str) -> TollwayConfig:
    values = yaml.safe_load((ROOT / path).read_text())
    return TollwayConfig.model_validate(values["config"])


def _config_file() -> TollwayConfig:
    return parse_config((ROOT / "config/tollway.yaml").read_text())


CONFIGS: dict[str, Callable[[], TollwayConfig]] = {
    "README.md": _readme,
    "config/tollway.yaml": _config_file,
    "helm values": lambda: _helm("deploy/k8s/tollway/values.yaml"),
    "helm production example": lambda: _helm("deploy/k8s/examples/values-production.yaml"),
}


@pytest.mark.parametrize("name", CONFIGS)
def test_shipped_upstream_references_pass_the_default_allow_list(name: str) -> None:
    policy = SecretPolicy()
    refused = [
        (deployment.name, field, policy.refusal(reference))
        for model in CONFIGS[name]().models
        for deployment in model.deployments
        for field, reference in deployment.secret_references()
        if policy.refusal(reference) is not None
    ]
    assert refused == []
