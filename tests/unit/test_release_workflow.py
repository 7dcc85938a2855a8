"""The GitHub workflows (.github/workflows: ci.yml, release.yml) cannot run here; they are
checked offline: valid against GitHub's workflow schema, every shell step parses, every
`make` call names a target of the Makefile and every script exists; the release is triggered
by a version tag, and a dry run of its targets with the workflow's arguments builds and pushes
what a release needs."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).parents[2]
WORKFLOWS = sorted((ROOT / ".github/workflows").glob("*.yml"))
WORKFLOW = ROOT / ".github/workflows/release.yml"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def _workflow(path: Path = WORKFLOW) -> dict[Any, Any]:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict)
    # YAML 1.1 reads the key `on` as True; GitHub reads it as "on".
    document["on"] = document.pop(True)
    return document


def _steps(path: Path = WORKFLOW) -> list[tuple[str, dict[str, Any]]]:
    jobs = _workflow(path)["jobs"].items()
    return [(name, step) for name, job in jobs for step in job["steps"]]


def _all_steps() -> list[tuple[str, dict[str, Any]]]:
    return [(f"{path.stem}/{job}", step) for path in WORKFLOWS for job, step in _steps(path)]


def _runs(path: Path = WORKFLOW) -> list[tuple[str, str]]:
    return [(name, step["run"]) for name, step in _steps(path) if "run" in step]


def _make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z-]*):", text, flags=re.MULTILINE))


def _make_calls(path: Path = WORKFLOW) -> list[tuple[str, list[str]]]:
    """`make` invocations in the run steps: (job, arguments), ${{ }} expressions as words."""
    calls = []
    for job, script in _runs(path):
        text = re.sub(r"\$\{\{[^}]*\}\}", "EXPR", script.replace("\\\n", " "))
        for line in text.splitlines():
            words = shlex.split(line, comments=True)
            for index, word in enumerate(words):
                if word == "make":
                    calls.append((job, words[index + 1 :]))
    return calls


def test_there_are_the_ci_and_release_workflows() -> None:
    assert [path.name for path in WORKFLOWS] == ["ci.yml", "release.yml"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_the_workflow_is_valid_for_github(path: Path) -> None:
    schema_file = (
        resources.files("check_jsonschema") / "builtin_schemas/vendor/github-workflows.json"
    )
    schema = json.loads(schema_file.read_text())
    errors = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in jsonschema.Draft7Validator(schema).iter_errors(_workflow(path))
    ]
    assert not errors


def test_a_version_tag_starts_it_and_the_tag_must_match_the_version() -> None:
    workflow = _workflow()
    assert workflow["on"] == {"push": {"tags": ["v*"]}}
    (check,) = [s["run"] for _, s in _steps() if s.get("id") == "version"]
    assert "make -s version" in check
    assert '"v${version}"' in check
    printed = subprocess.run(
        ["make", "-s", "version"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert printed.stdout.strip() == VERSION


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_make_call_names_a_target_and_every_script_exists(path: Path) -> None:
    targets = _make_targets()
    for job, args in _make_calls(path):
        named = [a for a in args if not a.startswith("-") and "=" not in a]
        assert named, f"{job}: make without a target"
        assert set(named) <= targets, f"{job}: no target {set(named) - targets}"
    for job, script in _runs(path):
        for program in re.findall(r"(?:^|\s)(\.ci/[\w-]+)", script):
            assert (ROOT / program).is_file(), f"{job}: {program} does not exist"


def test_the_release_tests_then_publishes_wheels_images_and_the_chart() -> None:
    called = {a for _, args in _make_calls() for a in args}
    assert {"test", "cli-smoke", "images", "chart-push"} <= called
    # cli-smoke builds the wheels it checks and the release attaches
    assert re.search(r"^cli-smoke: dist\b", (ROOT / "Makefile").read_text(), re.MULTILINE)


def test_ci_runs_every_test_with_docker_required_and_the_installed_cli() -> None:
    jobs = _workflow(ROOT / ".github/workflows/ci.yml")["jobs"]
    assert jobs["test"]["env"]["TOLLWAY_REQUIRE_DOCKER"] == "1"
    assert [s["run"] for s in jobs["test"]["steps"] if "run" in s] == [".ci/run"]
    assert [s["run"] for s in jobs["cli"]["steps"] if "run" in s] == ["make cli-smoke"]
    clickhouse_test = (ROOT / "tests/integration/test_clickhouse_server.py").read_text()
    assert 'os.environ.get("TOLLWAY_REQUIRE_DOCKER")' in clickhouse_test


def test_jobs_wait_for_the_checks_and_only_publishers_may_write() -> None:
    workflow = _workflow()
    jobs = workflow["jobs"]
    assert workflow["permissions"] == {"contents": "read"}
    for name, job in jobs.items():
        needs = job.get("needs", [])
        needs = [needs] if isinstance(needs, str) else needs
        assert set(needs) <= set(jobs), name
        if name != "check":
            assert "check" in needs, f"{name} runs only after the tests pass"
    assert jobs["images"]["permissions"]["packages"] == "write"
    assert jobs["chart"]["permissions"]["packages"] == "write"
    assert jobs["wheels"]["permissions"]["contents"] == "write"


@pytest.mark.parametrize(("job", "step"), _all_steps(), ids=lambda v: str(v)[:30])
def test_every_action_is_pinned_and_every_script_parses(job: str, step: dict[str, Any]) -> None:
    if "uses" in step:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@(v\d+(\.\d+)*|[0-9a-f]{40})", step["uses"]), job
    if "run" in step:
        script = re.sub(r"\$\{\{[^}]*\}\}", "EXPR", step["run"])
        parsed = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
        assert parsed.returncode == 0, f"{job}: {parsed.stderr}"


def _dry_run(*args: str) -> str:
    result = subprocess.run(
        ["make", "-n", *args], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return result.stdout


def test_the_images_target_builds_and_pushes_the_four_services() -> None:
    (args,) = [args for _, args in _make_calls() if args[:1] == ["images"]]
    registry = "ghcr.io/acme/tollway"
    values = dict(a.split("=", 1) for a in args[1:])
    assert set(values) == {"IMAGE_REGISTRY", "IMAGE_TAG", "IMAGE_BUILD_FLAGS"}
    script = _dry_run(
        "images",
        f"IMAGE_REGISTRY={registry}",
        f"IMAGE_TAG={VERSION}",
        f"IMAGE_BUILD_FLAGS={values['IMAGE_BUILD_FLAGS']}",
    )
    assert "--push" in script
    assert "deploy/Dockerfile" in script
    for service in ("edge", "router", "metering", "admin"):
        assert re.search(rf"\b{service}:\d+\b", script), service
    # The loop names each image $(IMAGE_REGISTRY)/<service>:<tag>, as the chart expects.
    assert f"-t {registry}/$service:{VERSION}" in script


def test_the_chart_target_packages_the_locked_chart_and_pushes_it() -> None:
    script = _dry_run("chart-push", "CHART_REGISTRY=oci://ghcr.io/acme/charts")
    assert "helm dependency build deploy/k8s/tollway" in script
    assert "helm package deploy/k8s/tollway --destination dist" in script
    assert f"helm push dist/tollway-{VERSION}.tgz oci://ghcr.io/acme/charts" in script
    chart = yaml.safe_load((ROOT / "deploy/k8s/tollway/Chart.yaml").read_text())
    assert chart["version"] == VERSION, "helm package names the archive by the chart version"


def test_the_cli_smoke_script_parses() -> None:
    script = ROOT / ".ci/cli-smoke"
    assert script.stat().st_mode & 0o111, "executable"
    subprocess.run(["bash", "-n", str(script)], check=True)
