"""The Helm chart's `helm test` pod, run against a real edge: the script the chart renders
(tests/unit/deploy/test_helm_chart.py checks the pod around it) passes with a valid key and
fails with a wrong one, so a green `helm test` means the API serves authenticated requests."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from tests.support.stack import Stack
from tests.unit.deploy.support import by_kind, manifests, render_chart


@pytest.fixture(scope="module")
def pod_script() -> str:
    (pod,) = by_kind(manifests(render_chart({})), "Pod").values()
    (container,) = pod["spec"]["containers"]
    assert container["command"] == ["python", "-c"]
    script: Any = container["args"][0]
    assert isinstance(script, str)
    return script


def _run(script: str, base_url: str, key: str) -> subprocess.CompletedProcess[str]:
    env = {"TOLLWAY_TEST_BASE_URL": base_url, "TOLLWAY_TEST_API_KEY": key}
    return subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=30
    )


def test_the_helm_test_script_passes_against_a_serving_edge(
    shared_stack: Stack, api_key: str, pod_script: str
) -> None:
    result = _run(pod_script, shared_stack.edge_url, api_key)
    assert result.returncode == 0, result.stderr
    assert "edge healthy; models:" in result.stdout
    assert "tollway-demo" in result.stdout


def test_the_helm_test_script_fails_with_a_wrong_key(shared_stack: Stack, pod_script: str) -> None:
    result = _run(pod_script, shared_stack.edge_url, "sk-tollway-wrong")
    assert result.returncode != 0
    assert "401" in result.stderr
