"""One version for the whole release: every package, the chart's appVersion, the image
defaults and the changelog's newest entry name the root pyproject.toml's number, and every
package ships under the licence in LICENSE."""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parents[2]
MEMBERS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]["members"]


def _project(path: Path) -> dict[str, object]:
    project: dict[str, object] = tomllib.loads(path.read_text())["project"]
    return project


VERSION = str(_project(ROOT / "pyproject.toml")["version"])


def test_the_version_is_semantic() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION), VERSION


@pytest.mark.parametrize("member", MEMBERS)
def test_every_package_has_the_release_version_and_licence(member: str) -> None:
    project = _project(ROOT / member / "pyproject.toml")
    assert project["version"] == VERSION, f"{member}/pyproject.toml: set version = {VERSION!r}"
    assert project["license"] == "Apache-2.0"


@pytest.mark.parametrize("member", MEMBERS)
def test_every_package_reports_its_installed_version(member: str) -> None:
    name = str(_project(ROOT / member / "pyproject.toml")["name"]).replace("-", "_")
    assert importlib.import_module(name).__version__ == VERSION


def test_the_chart_serves_this_release() -> None:
    chart = yaml.safe_load((ROOT / "deploy/k8s/tollway/Chart.yaml").read_text())
    assert chart["appVersion"] == VERSION


@pytest.mark.parametrize(
    ("path", "pattern"),
    [
        ("deploy/Dockerfile", r"ARG VERSION=(\S+)"),
        ("deploy/compose/docker-compose.yml", r"\$\{TOLLWAY_VERSION:-([^}]+)\}"),
        ("deploy/k8s/examples/values-production.yaml", r'tag: "([^"]+)"'),
    ],
)
def test_image_tags_default_to_this_release(path: str, pattern: str) -> None:
    found = set(re.findall(pattern, (ROOT / path).read_text()))
    assert found == {VERSION}, f"{path} names {sorted(found)}"


def test_the_changelog_starts_with_this_release() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## \[([^\]]+)\]", changelog, flags=re.MULTILINE)
    assert headings, "CHANGELOG.md has no `## [version]` entry"
    newest = headings[1] if headings[0] == "Unreleased" else headings[0]
    assert newest == VERSION


def test_the_licence_is_the_apache_2_0_text() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text
    assert "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
