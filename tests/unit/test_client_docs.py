"""Every example in docs/clients.md parses, points at Tollway, and uses names its client knows:
Python examples build their clients with the locked SDKs and call only methods and arguments
those SDKs have; JavaScript passes `node --check`; Continue's config passes Continue's own
schema (`@continuedev/config-yaml`, from npm); the others are checked against the fields their
makers document, transcribed below where no package registry ships a schema."""

from __future__ import annotations

import ast
import inspect
import json
import re
import subprocess
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from anthropic import Anthropic
from langchain_openai import ChatOpenAI, OpenAIEmbeddings
from openai import AzureOpenAI, OpenAI
from tests.support.node import run_node, run_node_json

GUIDE = Path(__file__).parents[2] / "docs" / "clients.md"
OPENAI_BASE = "http://127.0.0.1:8080/v1"
EDGE = "http://127.0.0.1:8080"
DEV_KEY = "sk-tollway-dev-..."
LANGUAGES = {"python", "js", "json", "yaml", "toml", "bash"}


@dataclass(frozen=True)
class Example:
    section: str
    language: str
    text: str


def _examples() -> list[Example]:
    examples = []
    for section in GUIDE.read_text().split("\n## ")[1:]:
        title, body = section.split("\n", 1)
        for language, text in re.findall(r"^```(\w*)\n(.*?)^```$", body, re.DOTALL | re.MULTILINE):
            examples.append(Example(title.strip(), language, text))
    return examples


EXAMPLES = _examples()


def _one(section: str, language: str) -> str:
    [text] = [e.text for e in EXAMPLES if e.section == section and e.language == language]
    return text


def _exports(script: str) -> dict[str, str]:
    return dict(re.findall(r"^export (\w+)=(\S+)", script, re.MULTILINE))


def test_each_client_has_a_section_and_all_but_cursor_an_example() -> None:
    sections = re.findall(r"^## (.+)$", GUIDE.read_text(), re.MULTILINE)
    assert sections == [
        "openai Python SDK",
        "openai Node SDK",
        "AzureOpenAI (openai SDKs)",
        "LangChain",
        "VS Code Copilot",
        "Continue",
        "Codex CLI",
        "Open WebUI",
        "Cursor",
        "Claude Code",
        "anthropic SDKs",
    ]
    # Cursor is set up in its settings screen only: the guide names the fields.
    assert {e.section for e in EXAMPLES} == set(sections) - {"Cursor"}


def test_every_fence_names_a_language_this_test_reads() -> None:
    fences = re.findall(r"^```(\w*)$", GUIDE.read_text(), re.MULTILINE)
    assert len(fences) == 2 * len(EXAMPLES)
    assert {e.language for e in EXAMPLES} == LANGUAGES


# What each client's base URL reads back as once the SDK has built it.
CLIENTS: dict[str, tuple[Callable[..., Any], Callable[[Any], str], str]] = {
    "OpenAI": (OpenAI, lambda client: str(client.base_url), f"{OPENAI_BASE}/"),
    "AzureOpenAI": (AzureOpenAI, lambda client: str(client.base_url), f"{EDGE}/openai/"),
    "ChatOpenAI": (ChatOpenAI, lambda chat: str(chat.root_client.base_url), f"{OPENAI_BASE}/"),
    "OpenAIEmbeddings": (OpenAIEmbeddings, lambda model: model.openai_api_base, OPENAI_BASE),
    "Anthropic": (Anthropic, lambda client: str(client.base_url), EDGE),
}


def _built_clients(tree: ast.Module) -> dict[str, Any]:
    """Each `name = Client(...literal keywords...)` of the example, built with the locked SDK."""
    built = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)):
            continue
        constructor = getattr(node.value.func, "id", "")
        if constructor not in CLIENTS:
            continue
        make, base_url, expected = CLIENTS[constructor]
        options = {kw.arg or "": ast.literal_eval(kw.value) for kw in node.value.keywords}
        assert options.get("api_key") == DEV_KEY, constructor
        client = make(**options)
        assert base_url(client) == expected, constructor
        [target] = node.targets
        assert isinstance(target, ast.Name)
        built[target.id] = client
    return built


def _attribute_path(node: ast.expr) -> list[str] | None:
    names = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    return [node.id, *reversed(names)] if isinstance(node, ast.Name) else None


def _check_calls(tree: ast.Module, built: dict[str, Any]) -> int:
    """Every `client.a.b(...)` call resolves on the built client and passes only keywords the
    method declares; returns how many calls were checked."""
    checked = 0
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        path = _attribute_path(node.func)
        if path is None or path[0] not in built:
            continue
        target = built[path[0]]
        for name in path[1:]:
            target = getattr(target, name)
        parameters = inspect.signature(target).parameters
        for keyword in node.keywords:
            assert keyword.arg in parameters, f"{'.'.join(path)} takes no {keyword.arg}"
        checked += 1
    return checked


@pytest.mark.parametrize(
    "example", [e for e in EXAMPLES if e.language == "python"], ids=lambda e: e.section
)
def test_python_examples_build_their_clients_and_call_real_methods(example: Example) -> None:
    tree = ast.parse(example.text)
    built = _built_clients(tree)
    assert built, "the example builds a client"
    assert _check_calls(tree, built) >= 1


def test_python_examples_show_every_python_client() -> None:
    shown = {
        getattr(node.func, "id", "")
        for e in EXAMPLES
        if e.language == "python"
        for node in ast.walk(ast.parse(e.text))
        if isinstance(node, ast.Call)
    }
    assert set(CLIENTS) <= shown


@pytest.mark.parametrize(
    "example", [e for e in EXAMPLES if e.language == "js"], ids=lambda e: e.section
)
def test_javascript_examples_parse_and_point_at_tollway(example: Example, tmp_path: Path) -> None:
    script = tmp_path / "example.mjs"
    script.write_text(example.text)
    run_node(["--check", str(script)])
    [base_url] = re.findall(r'baseURL: "([^"]+)"', example.text)
    expected = EDGE if "@anthropic-ai/sdk" in example.text else OPENAI_BASE
    assert base_url == expected


# `github.copilot.chat.customOAIModels` as the Copilot Chat extension's manifest declared it
# (contributes.configuration, before the setting moved to the Language Models editor); the
# extension is published only to the VS Code marketplace, not to a package registry.
COPILOT_MODEL_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "url": {"type": "string"},
        "toolCalling": {"type": "boolean"},
        "vision": {"type": "boolean"},
        "maxInputTokens": {"type": "number"},
        "maxOutputTokens": {"type": "number"},
        "requiresAPIKey": {"type": "boolean"},
        "editTools": {
            "type": "array",
            "items": {
                "enum": ["find-replace", "multi-find-replace", "apply-patch", "code-rewrite"]
            },
        },
        "thinking": {"type": "boolean"},
        "streaming": {"type": "boolean"},
        "zeroDataRetentionEnabled": {"type": "boolean"},
        "requestHeaders": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "required": [
        "name",
        "url",
        "toolCalling",
        "vision",
        "maxInputTokens",
        "maxOutputTokens",
        "requiresAPIKey",
    ],
    "additionalProperties": False,
}


def test_copilot_settings_match_the_extensions_schema() -> None:
    settings = json.loads(_one("VS Code Copilot", "json"))
    assert set(settings) == {"github.copilot.chat.customOAIModels"}
    models = settings["github.copilot.chat.customOAIModels"]
    schema = {"type": "object", "additionalProperties": COPILOT_MODEL_SCHEMA, "minProperties": 1}
    jsonschema.validate(models, schema)
    assert {model["url"] for model in models.values()} == {OPENAI_BASE}


def test_continue_config_passes_continues_own_schema() -> None:
    text = _one("Continue", "yaml")
    written = yaml.safe_load(text)
    read = run_node_json(["continue_config.mjs"], stdin=text)
    assert read["errors"] == []
    # The schema drops fields it does not know: nothing dropped means every field is Continue's.
    assert read["config"] == written
    models = written["models"]
    assert {model["apiBase"] for model in models} == {OPENAI_BASE}
    assert {model["provider"] for model in models} == {"openai"}
    assert {"chat", "embed"} <= {role for model in models for role in model["roles"]}


# Codex CLI's config keys for a model provider (its `ModelProviderInfo`); Codex ships as a
# native binary with no schema in a package registry.
CODEX_PROVIDER_KEYS = {
    "name",
    "base_url",
    "env_key",
    "env_key_instructions",
    "experimental_bearer_token",
    "wire_api",
    "query_params",
    "http_headers",
    "env_http_headers",
    "request_max_retries",
    "stream_max_retries",
    "stream_idle_timeout_ms",
    "requires_openai_auth",
}


def test_codex_config_names_a_responses_provider_the_shell_gives_a_key() -> None:
    config = tomllib.loads(_one("Codex CLI", "toml"))
    assert set(config) == {"model", "model_provider", "model_providers"}
    name = config["model_provider"]
    assert name != "openai", "Codex ignores overrides of its built-in provider"
    provider = config["model_providers"][name]
    assert set(provider) <= CODEX_PROVIDER_KEYS
    assert provider["base_url"] == OPENAI_BASE
    assert provider["wire_api"] == "responses"
    assert _exports(_one("Codex CLI", "bash")) == {provider["env_key"]: DEV_KEY}


@pytest.mark.parametrize(
    "example", [e for e in EXAMPLES if e.language == "bash"], ids=lambda e: e.section
)
def test_shell_examples_are_valid_bash(example: Example) -> None:
    result = subprocess.run(
        ["bash", "-n"], input=example.text, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_open_webui_reads_the_openai_url_and_key() -> None:
    assert _exports(_one("Open WebUI", "bash")) == {
        "OPENAI_API_BASE_URL": OPENAI_BASE,
        "OPENAI_API_KEY": DEV_KEY,
        "ENABLE_OLLAMA_API": "false",
    }


# Claude Code's documented variables for the model provider and its model tiers.
CLAUDE_CODE_ENV = {
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_CUSTOM_HEADERS",
    "ANTHROPIC_MODEL",
    "ANTHROPIC_DEFAULT_SONNET_MODEL",
    "ANTHROPIC_DEFAULT_OPUS_MODEL",
    "ANTHROPIC_DEFAULT_HAIKU_MODEL",
    "ANTHROPIC_SMALL_FAST_MODEL",
    "CLAUDE_CODE_SUBAGENT_MODEL",
}


def test_claude_code_env_and_settings_agree_and_point_at_the_edge() -> None:
    exported = _exports(_one("Claude Code", "bash"))
    settings = json.loads(_one("Claude Code", "json"))
    assert set(settings) == {"$schema", "env"}
    assert settings["$schema"] == "https://json.schemastore.org/claude-code-settings.json"
    env = settings["env"]
    assert set(exported) <= CLAUDE_CODE_ENV
    assert set(env) <= CLAUDE_CODE_ENV
    assert {name: env[name] for name in exported} == exported
    assert env["ANTHROPIC_BASE_URL"] == EDGE
    assert env["ANTHROPIC_AUTH_TOKEN"] == DEV_KEY
