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


REQUEST_FACTS = ROOT / "services/edge/src/tollway_edge/request_facts.py"
# Where a token field may still be named: the edge's body check (it validates them) and the
# demo server, which stands in for an upstream and reads its own request as one would.
TOKEN_FIELD_READERS = {
    REQUEST_FACTS,
    ROOT / "services/edge/src/tollway_edge/body.py",
    ROOT / "services/router/src/tollway_router/upstream/demo_server.py",
}


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_request_facts_are_read_from_the_body_in_one_place(path: Path) -> None:
    source = path.read_text()
    if path != REQUEST_FACTS:
        assert "estimate_prompt_tokens" not in source, "read InferRequest.facts.prompt_tokens"
    if path not in TOKEN_FIELD_READERS:
        assert '"max_completion_tokens"' not in source, "read InferRequest.facts.max_tokens"
