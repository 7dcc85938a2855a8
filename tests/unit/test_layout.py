"""Guards on the shape of the tree: names live in one place, services never import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tollway_common.control import Policy
from tollway_common.providers import FACTS, Provider
from tollway_router.providers import REGISTRY

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
# Where a token field may still be named: the edge's body check (it validates them), the
# demo server, which stands in for an upstream and reads its own request as one would, and the
# Messages and Responses -> chat translations, which write chat's field from the facts' bound;
# the Claude rule table, which names every OpenAI field to say what becomes of it and reads none;
# and the Responses refusal namer, which names chat's fields to say which Responses field each was.
TOKEN_FIELD_READERS = {
    REQUEST_FACTS,
    ROOT / "services/edge/src/tollway_edge/body.py",
    ROOT / "services/router/src/tollway_router/upstream/demo_server.py",
    ROOT / "services/router/src/tollway_router/dialects/messages_request.py",
    ROOT / "services/router/src/tollway_router/dialects/responses_request.py",
    ROOT / "services/router/src/tollway_router/dialects/responses_params.py",
    ROOT / "services/router/src/tollway_router/providers/anthropic/fields.py",
}


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_request_facts_are_read_from_the_body_in_one_place(path: Path) -> None:
    source = path.read_text()
    if path != REQUEST_FACTS:
        assert "estimate_prompt_tokens" not in source, "read InferRequest.facts.prompt_tokens"
    if path not in TOKEN_FIELD_READERS:
        assert '"max_completion_tokens"' not in source, "read InferRequest.facts.max_tokens"


EDGE = SERVICES["tollway_edge"]
EDGE_POLICY = EDGE / "policy.py"


@pytest.mark.parametrize("path", sorted(EDGE.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_policy_levels_are_combined_in_one_place(path: Path) -> None:
    """The edge reads a level's rules only through `policy.effective`, so no check can fall
    back to one level's opinion (the narrowest-wins escape)."""
    if path == EDGE_POLICY:
        return
    source = path.read_text()
    assert [name for name in Policy.model_fields if f".policy.{name}" in source] == []


PROVIDER_HOMES = (
    ROOT / "libs/common/src/tollway_common/providers.py",
    ROOT / "services/router/src/tollway_router/providers",
)
PROVIDER_NAMES = {provider.value for provider in Provider}


def _provider_names_compared(tree: ast.AST) -> list[str]:
    """Every comparison with a provider name (`provider == "anthropic"`, `in {"openai", ...}`),
    every `Provider.X` and every table keyed by provider names in `tree`."""

    def names_in(node: ast.expr) -> list[str]:
        if isinstance(node, ast.Constant) and node.value in PROVIDER_NAMES:
            return [str(node.value)]
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return [name for element in node.elts for name in names_in(element)]
        if isinstance(node, ast.Call) and node.args:  # frozenset({...}), set([...])
            return names_in(node.args[0])
        return []

    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for operand in (node.left, *node.comparators):
                found += [f"line {node.lineno}: compares {name!r}" for name in names_in(operand)]
        elif isinstance(node, ast.Dict):
            keys = [name for key in node.keys if key is not None for name in names_in(key)]
            found += [f"line {node.lineno}: a table keyed by {name!r}" for name in keys]
        elif isinstance(node, ast.MatchValue):
            found += [f"line {node.lineno}: matches {n!r}" for n in names_in(node.value)]
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == Provider.__name__
        ):
            found.append(f"line {node.lineno}: names Provider.{node.attr}")
    return found


def test_the_registry_and_the_facts_name_every_provider_and_no_other() -> None:
    assert set(REGISTRY) == set(Provider) == set(FACTS)
    assert all(REGISTRY[provider].type is provider for provider in Provider)


@pytest.mark.parametrize(
    "path",
    [p for p in _sources() if not any(p.is_relative_to(home) for home in PROVIDER_HOMES)],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_no_module_outside_the_provider_homes_compares_a_provider_name(path: Path) -> None:
    assert _provider_names_compared(ast.parse(path.read_text())) == [], (
        f"{path}: ask tollway_common.providers.FACTS (or the router's REGISTRY) instead"
    )


def test_the_provider_guard_finds_what_it_guards_against() -> None:
    code = """
if deployment.provider == "anthropic": pass
if d.provider not in frozenset({"azure_openai", "anthropic"}): pass
SCOPES = {"azure_openai": "https://cognitiveservices.azure.com/.default"}
if d.provider is Provider.FAKE: pass
"""
    assert _provider_names_compared(ast.parse(code)) == [
        "line 2: compares 'anthropic'",
        "line 3: compares 'azure_openai'",
        "line 3: compares 'anthropic'",
        "line 4: a table keyed by 'azure_openai'",
        "line 5: names Provider.FAKE",
    ]


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


def test_test_modules_have_unique_names() -> None:
    """pytest imports a test module by its basename: two `test_x.py` in folders without an
    `__init__.py` collide, and whichever is collected second errors out."""
    names = [path.name for path in (ROOT / "tests").rglob("test_*.py")]
    assert sorted({name for name in names if names.count(name) > 1}) == []
