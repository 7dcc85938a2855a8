"""Shared helpers for the deploy/ tests: a Dockerfile reader, Compose interpolation, Helm
rendering (Helm's own Go engine, through helm-python-sdk) and settings checks against the
services' real settings classes."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml
from pydantic_settings import BaseSettings
from starlette.testclient import TestClient

from tollway_admin.settings import AdminSettings
from tollway_edge.settings import EdgeSettings
from tollway_metering.settings import MeteringSettings
from tollway_router.settings import RouterSettings

ROOT = Path(__file__).parents[3]
SERVICES = ("edge", "router", "metering", "admin")
HTTP_SERVICES = {"edge": 8080, "admin": 8081}
# Router and metering have no HTTP API: their monitor server answers probes and Prometheus.
MONITOR_PORT = 9090
SETTINGS: dict[str, type[BaseSettings]] = {
    "edge": EdgeSettings,
    "router": RouterSettings,
    "metering": MeteringSettings,
    "admin": AdminSettings,
}
DOCKERFILE = ROOT / "deploy/Dockerfile"
COMPOSE_DIR = ROOT / "deploy/compose"
CHART_DIR = ROOT / "deploy/k8s/tollway"
PRODUCTION_VALUES = ROOT / "deploy/k8s/examples/values-production.yaml"
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest schemas
# kubernetes-validate ships.
KUBE_VERSIONS = ("1.27", "1.37")


# --- Dockerfiles ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    line: int

    def exec_form(self) -> list[str]:
        """The JSON (exec) form of CMD/ENTRYPOINT/HEALTHCHECK CMD arguments."""
        text = self.args
        if self.keyword == "HEALTHCHECK":
            text = text[text.index("CMD") + len("CMD") :]
        value = json.loads(text.strip())
        assert isinstance(value, list)
        return [str(item) for item in value]


@dataclass(frozen=True)
class Stage:
    base: str
    name: str | None
    instructions: tuple[Instruction, ...]

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def image_port(service: str) -> int:
    return HTTP_SERVICES.get(service, MONITOR_PORT)


def build_args(service: str) -> dict[str, str]:
    """What compose and docs/deploy.md pass to deploy/Dockerfile for one service."""
    return {"SERVICE": service, "PORT": str(image_port(service))}


def read_image(service: str, extras: str = "") -> tuple[dict[str, str], list[Stage]]:
    """deploy/Dockerfile as built for `service` (with `--build-arg EXTRAS=<extras>`)."""
    return read_dockerfile(DOCKERFILE, {**build_args(service), "EXTRAS": extras})


def read_dockerfile(
    path: Path, arg_values: Mapping[str, str] | None = None
) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages of a Dockerfile: comments dropped, `\\` continuations
    joined, `${NAME}` of the given build args replaced by their values. hadolint (a real
    Dockerfile parser) checks the syntax in test_dockerfiles."""
    logical: list[tuple[int, str]] = []
    pending = ""
    start = 0
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append((start, _substitute(pending + line, arg_values or {})))
        pending = ""
    assert not pending, f"{path}: the last instruction ends with a continuation"

    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    current: list[Instruction] | None = None
    base = ""
    name: str | None = None
    for number, text in logical:
        keyword, _, args = text.partition(" ")
        instruction = Instruction(keyword.upper(), args.strip(), number)
        if instruction.keyword == "FROM":
            if current is not None:
                stages.append(Stage(base, name, tuple(current)))
            parts = instruction.args.split()
            parts = [p for p in parts if not p.startswith("--")]
            base = parts[0]
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            current = []
        elif current is None:
            assert instruction.keyword == "ARG", f"{path}:{number}: only ARG may precede FROM"
            key, _, value = instruction.args.partition("=")
            global_args[key] = value
        else:
            current.append(instruction)
    if current is not None:
        stages.append(Stage(base, name, tuple(current)))
    return global_args, stages


def _substitute(text: str, values: Mapping[str, str]) -> str:
    """`${NAME}`, `${NAME:-word}` and `${NAME:+word}` of the given build args (the Dockerfile
    modifiers); other variables stay as written."""

    def replace(match: re.Match[str]) -> str:
        name, op, word = match.group("name"), match.group("op"), match.group("word")
        if name not in values:
            return match.group(0)
        value = values[name]
        if op == ":-":
            return value or word
        if op == ":+":
            return word if value else ""
        return value

    # innermost first: `${EXTRAS:+--extra "${EXTRAS}"}` holds a variable in its word
    while (replaced := _BUILD_ARG.sub(replace, text)) != text:
        text = replaced
    return text


_BUILD_ARG = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:[-+])(?P<word>[^{}]*))?\}")


def env_of(instructions: list[Instruction]) -> dict[str, str]:
    """KEY=value pairs of ENV instructions (values without spaces or quotes, as ours are)."""
    env: dict[str, str] = {}
    for instruction in instructions:
        for pair in instruction.args.split():
            key, _, value = pair.partition("=")
            env[key] = value
    return env


# --- Compose interpolation --------------------------------------------------------------------

_VARIABLE = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
)


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Compose's `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}` and `$$`."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg") or ""
        current = env.get(name)
        empty = current is None or (current == "" and op is not None and op.startswith(":"))
        if op in (":-", "-"):
            return arg if empty else str(current)
        if op in (":?", "?"):
            if empty:
                raise KeyError(f"{name} is required: {arg}")
            return str(current)
        if op in (":+", "+"):
            return "" if empty else arg
        if current is None:
            raise KeyError(f"{name} is not set and has no default")
        return current

    return _VARIABLE.sub(replace, value)


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def load_compose(env: Mapping[str, str]) -> dict[str, Any]:
    raw = yaml.safe_load((COMPOSE_DIR / "docker-compose.yml").read_text())
    assert isinstance(raw, dict)
    document = interpolate(raw, env)
    assert isinstance(document, dict)
    return document


# --- Helm ---------------------------------------------------------------------------------------


def render_chart(
    values: Mapping[str, Any] | None = None, *, namespace: str = "tollway"
) -> dict[str, str]:
    """Render the chart offline with Helm's engine: template path -> rendered text."""
    with helm.Chart.load(CHART_DIR) as chart:
        return chart.render(dict(values or {}), name="tollway", namespace=namespace)


def manifests(rendered: Mapping[str, str]) -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        for document in yaml.safe_load_all(text):
            if document:
                assert isinstance(document, dict), f"{path}: a manifest is not a mapping"
                documents.append(document)
    return documents


def production_values() -> dict[str, Any]:
    values = yaml.safe_load(PRODUCTION_VALUES.read_text())
    assert isinstance(values, dict)
    return values


def by_kind(documents: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in documents if d["kind"] == kind}


def component(document: dict[str, Any]) -> str:
    labels = document["metadata"]["labels"]
    value = labels["app.kubernetes.io/component"]
    assert isinstance(value, str)
    return value


# --- Settings -----------------------------------------------------------------------------------


def check_settings(
    service: str, env: Mapping[str, str], monkeypatch: pytest.MonkeyPatch
) -> BaseSettings:
    """Every TOLLWAY_<SERVICE>_* variable names a real setting and the service accepts the
    values: the same settings class the process builds at start."""
    settings_class = SETTINGS[service]
    prefix = f"TOLLWAY_{service.upper()}_"
    for name in env:
        if name.startswith(prefix):
            field = name[len(prefix) :].lower().split("__", 1)[0]
            assert field in settings_class.model_fields, f"{name}: {service} has no {field!r}"
    for name, value in env.items():
        if name.startswith(prefix):
            monkeypatch.setenv(name, value)
    return settings_class()


def status_of(app: Any, path: str) -> int:
    """The status an ASGI app answers GET `path` with, in memory (no lifespan, no socket): 404
    means the path is not served; anything else means a route answered."""
    # The kubelet names the pod by its IP in the Host header.
    client = TestClient(app, base_url="http://10.0.0.7", raise_server_exceptions=False)
    return client.get(path).status_code
