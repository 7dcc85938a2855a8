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
