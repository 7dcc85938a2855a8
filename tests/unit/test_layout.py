"""Guards on the shape of the tree: names live in one place, services never import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
SERVICES = {
    "tollway_edge": ROOT / "services/edge/src/tollway_edge",
    "tollway_router": ROOT / "services/router/src/tollway_router",
    "tollway_metering": ROOT / "services/metering/src/tollway_metering",
    "tollway_admin": ROOT / "services/admin/src/tollway_admin",
}
CONTRACT = ROOT / "libs/common/src/tollway_common/contract.py"


def _sources() -> list[Path]:
    roots = [*SERVICES.values(), ROOT / "libs/common/src", ROOT / "libs/cli/src"]
    return sorted(path for root in roots for path in root.rglob("*.py"))


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_subject_is_spelled_outside_the_contract(path: Path) -> None:
    if path == CONTRACT:
        return
    assert "tollway.v1." not in path.read_text()


@pytest.mark.parametrize("service", SERVICES)
def test_services_never_import_each_other(service: str) -> None:
    others = set(SERVICES) - {service}
    for path in SERVICES[service].rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in others, f"{path} imports {name}"


PROCESSES = ROOT / "libs/cli/src/tollway_cli/processes.py"


def _process_starters() -> list[Path]:
    roots = [ROOT / "libs", ROOT / "services", ROOT / "bench", ROOT / "tests/support"]
    return sorted(
        path
        for root in roots
        for path in root.rglob("*.py")
        if ".venv" not in path.parts and "subprocess.Popen" in path.read_text()
    )


def test_long_running_processes_are_started_in_one_module() -> None:
    """The launcher, the test stack and the bench share one supervisor (spawn, wait until
    ready, stop with a bounded wait)."""
    assert _process_starters() == [PROCESSES]


def test_production_code_has_no_testing_package() -> None:
    assert not [path for path in _sources() if "testing" in path.parts]
