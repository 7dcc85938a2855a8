"""The client examples in the README are Python that runs against the locked SDK's signatures,
and the Azure one calls the path the edge reads as its deployment."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from openai import AzureOpenAI

from tollway_edge.azure_paths import AzurePath, read_path

README = Path(__file__).parents[2] / "README.md"


def _python_blocks() -> list[ast.Module]:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    return [ast.parse(block) for block in blocks]


def _azure_client_arguments() -> dict[str, object]:
    calls = [
        node
        for tree in _python_blocks()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "AzureOpenAI"
    ]
    assert len(calls) == 1, "the README shows one AzureOpenAI client"
    return {keyword.arg or "": ast.literal_eval(keyword.value) for keyword in calls[0].keywords}


def test_the_readme_shows_python_that_parses() -> None:
    assert len(_python_blocks()) >= 2


def test_the_readme_azure_client_is_built_by_the_sdk_and_reaches_a_deployment_path() -> None:
    arguments = {name: str(value) for name, value in _azure_client_arguments().items()}
    assert set(arguments) == {"azure_endpoint", "api_key", "api_version"}
    client = AzureOpenAI(
        azure_endpoint=arguments["azure_endpoint"],
        api_key=arguments["api_key"],
        api_version=arguments["api_version"],
    )
    assert client.base_url.path == "/openai/"
    assert read_path(f"{client.base_url.path}deployments/tollway-demo/chat/completions") == (
        AzurePath("/v1/chat/completions", "tollway-demo")
    )
    client.close()
