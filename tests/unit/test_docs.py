"""The configuration shown in the README is a valid configuration."""

from __future__ import annotations

import re
from pathlib import Path

from tollway_common.config_file import parse_config

README = Path(__file__).parents[2] / "README.md"


def test_readme_config_example_parses() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert blocks, "the README shows a configuration"
    config = parse_config(blocks[0], "README.md")
    providers = {d.provider for m in config.models for d in m.deployments}
    assert providers == {"fake", "openai", "anthropic", "azure_openai"}


ROOT = README.parent
ARCHITECTURE = ROOT / "docs/architecture.md"
PACKAGE_ROOTS = [ROOT / "libs", ROOT / "services"]


def _rooms_in_the_doc() -> set[str]:
    section = ARCHITECTURE.read_text().split("## Where the code lives", 1)[1].split("\n## ", 1)[0]
    return {path.rstrip("/") for path in re.findall(r"^\| `([^`]+/)` \|", section, re.MULTILINE)}


def _rooms_in_the_tree() -> set[str]:
    """Every package of the services and libraries and every package directly inside one (a
    room); deeper packages (a provider grown into a package, the UI's pages) belong to their
    room."""
    rooms = set()
    for base in PACKAGE_ROOTS:
        for init in base.glob("*/src/*/__init__.py"):
            rooms.add(init.parent)
            rooms.update(inner.parent for inner in init.parent.glob("*/__init__.py"))
    return {str(room.relative_to(ROOT)) for room in rooms}


def test_the_architecture_names_every_room_and_no_other() -> None:
    documented = _rooms_in_the_doc()
    assert all((ROOT / room).is_dir() for room in documented), documented
    assert _rooms_in_the_tree() - documented == set(), "name these rooms in docs/architecture.md"
