"""deploy/k8s/tollway: the chart is rendered by Helm's own engine (helm-python-sdk, offline) for
the default values, the production example and a few variants; every manifest is validated
against the Kubernetes OpenAPI schemas (kubernetes-validate, strict: no unknown fields) for the
oldest and newest Kubernetes the chart targets. Then the wiring is checked: probes on paths the
services serve, env the services accept, selectors that select, Secrets and the ConfigMap."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import helm_python as helm
import httpx
import jsonschema
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml
from aiohttp import web
from tests.unit.deploy.promql import problems
from tests.unit.deploy.support import (
    CHART_DIR,
    HTTP_SERVICES,
    KUBE_VERSIONS,
    MONITOR_PORT,
    ROOT,
    SERVICES,
    by_kind,
    check_settings,
    component,
    manifests,
    production_values,
    read_image,
    render_chart,
    status_of,
)

from tollway_admin.app import create_app as create_admin_app
from tollway_admin.settings import AdminSettings
from tollway_common.bus_permissions import Service, permissions
from tollway_common.config_file import load_config
from tollway_common.monitor_server import MonitorServer
from tollway_common.settings import MonitorSettings
from tollway_edge.app import create_app as create_edge_app
from tollway_edge.metrics import LIMITS_UNAVAILABLE
from tollway_edge.settings import EdgeSettings

SCENARIOS: dict[str, dict[str, Any]] = {
    "default": {},
    "production": production_values(),
    "metrics": {"serviceMonitor": {"enabled": True}},
    "external-nats": {"nats": {"enabled": False}, "natsUrl": "nats://nats.infra:4222"},
    "fixed-replicas": {
        "edge": {"autoscaling": {"enabled": False}, "replicas": 3},
        "router": {
            "autoscaling": {"enabled": False},
            "settings": {"heartbeat_interval_s": 0.5, "max_connections": 2000000},
        },
        "networkPolicy": {"enabled": False},
        "serviceAccount": {"create": False},
        "existingConfigMap": "my-tollway-config",
    },
    "aks-workload-identity": {
        "router": {
            "azureWorkloadIdentity": {
                "enabled": True,
                "clientId": "33333333-4444-5555-6666-777777777777",
                "tenantId": "fabrikam.onmicrosoft.com",
            }
        }
    },
    "own-secrets-closed-egress": {
        "adminSecret": "tollway-admin",
        "clientKeysSecret": "tollway-client-keys",
        "helmTest": {"apiKeySecret": "tollway-test-key", "apiKeySecretKey": "key"},
        "networkPolicy": {
            "egress": {
                "upstreams": False,
                "oidc": {"to": [{"ipBlock": {"cidr": "203.0.113.0/24"}}], "ports": [8443]},
                "webhooks": {"enabled": False},
            }
        },
    },
}

# The fields of the monitoring.coreos.com/v1 ServiceMonitor CRD the chart uses, transcribed
# from the CRD's openAPIV3Schema (kubernetes-validate ships core schemas only).
_DURATION = (
    r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
)
SERVICE_MONITOR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "required": ["endpoints", "selector"],
            "additionalProperties": False,
            "properties": {
                "selector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "matchLabels": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                        }
                    },
                },
                "namespaceSelector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "any": {"type": "boolean"},
                        "matchNames": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string"},
                            "interval": {"type": "string", "pattern": _DURATION},
                            "scrapeTimeout": {"type": "string", "pattern": _DURATION},
                        },
                    },
                },
            },
        },
    },
}


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {name: manifests(render_chart(values)) for name, values in SCENARIOS.items()}


@pytest.fixture(scope="module")
def default(rendered: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return rendered["default"]


@pytest.fixture(scope="module")
def production(rendered: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return rendered["production"]


def _deployment(documents: list[dict[str, Any]], service: str) -> dict[str, Any]:
    return by_kind(documents, "Deployment")[f"tollway-{service}"]


def _container(documents: list[dict[str, Any]], service: str) -> dict[str, Any]:
    (container,) = _deployment(documents, service)["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def test_chart_metadata_matches_the_services_and_uses_the_official_nats_chart() -> None:
    chart = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    for service in SERVICES:
        pyproject = tomllib.loads((ROOT / f"services/{service}/pyproject.toml").read_text())
        assert chart["appVersion"] == pyproject["project"]["version"], service
    (nats,) = chart["dependencies"]
    assert nats["name"] == "nats"
    assert nats["repository"] == "https://nats-io.github.io/k8s/helm/charts/"
    assert nats["condition"] == "nats.enabled"
    assert re.fullmatch(r"\d+\.\d+\.\d+", nats["version"]), "pinned"


def test_helm_lint_is_clean_but_for_the_dependency_fetched_at_install() -> None:
    for values in (None, production_values()):
        report = helm.lint(CHART_DIR, values, strict=True, kube_version="v1.27.0")
        problems = [
            message["error"]
            for message in report["messages"]
            if message["severity"] > 1
            and "missing these dependencies: nats" not in message["error"]
        ]
        assert not problems


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_manifest_validates_against_the_kubernetes_schemas(
    rendered: dict[str, list[dict[str, Any]]], scenario: str, kube_version: str
) -> None:
    documents = rendered[scenario]
    assert documents
    errors = []
    for document in documents:
        name = f"{document['kind']}/{document['metadata']['name']}"
        if document["kind"] == "ServiceMonitor":
            validator = jsonschema.Draft202012Validator(SERVICE_MONITOR_SCHEMA)
            errors += [f"{name}: {e.message}" for e in validator.iter_errors(document)]
            continue
        if document["kind"] == "PrometheusRule":
            assert document["apiVersion"] == "monitoring.coreos.com/v1"
            for group in document["spec"]["groups"]:
                for rule in group["rules"]:
                    assert {"alert", "expr"} <= set(rule), name
            continue
        if document["kind"] == "Certificate":
            # cert-manager's CRD: no schema offline; the fields it cannot do without.
            assert document["apiVersion"] == "cert-manager.io/v1"
            assert {"secretName", "issuerRef", "dnsNames"} <= set(document["spec"]), name
            continue
        try:
            kubernetes_validate.validate(document, kube_version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(part) for part in error.path)
            errors.append(f"{name}: {path}: {error.message}")
    assert not errors


def test_default_render_has_every_piece(default: list[dict[str, Any]]) -> None:
    kinds: dict[str, set[str]] = {}
    for document in default:
        kinds.setdefault(document["kind"], set()).add(document["metadata"]["name"])
    services = {f"tollway-{s}" for s in SERVICES}
    assert kinds["Deployment"] == services
    assert kinds["Service"] == {"tollway-edge", "tollway-admin"}
    assert kinds["HorizontalPodAutoscaler"] == {"tollway-edge", "tollway-router"}
    assert kinds["PodDisruptionBudget"] == services
    assert kinds["NetworkPolicy"] == services
    assert kinds["ConfigMap"] == {"tollway-config"}
    assert kinds["Secret"] == {"tollway-endpoints", "tollway-nats-users", "tollway-generated"}
    assert kinds["ServiceAccount"] == {"tollway"}
    assert "ServiceMonitor" not in kinds, "behind serviceMonitor.enabled"
    assert "PrometheusRule" not in kinds, "behind prometheusRule.enabled"
    assert "Ingress" not in kinds


def test_production_render_adds_monitoring_and_ingress(production: list[dict[str, Any]]) -> None:
    assert set(by_kind(production, "ServiceMonitor")) == {f"tollway-{s}" for s in SERVICES}
    assert set(by_kind(production, "PrometheusRule")) == {"tollway"}
    (ingress,) = by_kind(production, "Ingress").values()
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt"
    secrets = {d["metadata"]["name"] for d in production if d["kind"] == "Secret"}
    assert secrets == {"tollway-nats-users", "tollway-generated"}, "endpoints: existingSecret"
    (certificate,) = by_kind(production, "Certificate").values()
    assert certificate["spec"]["secretName"] == "tollway-nats-tls"


@pytest.mark.parametrize("service", HTTP_SERVICES)
def test_http_probes_point_at_paths_the_service_serves(
    default: list[dict[str, Any]], service: str, clean_environ: pytest.MonkeyPatch
) -> None:
    container = _container(default, service)
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    metrics = {"metrics": EdgeSettings().metrics.port} if service == "edge" else {}
    assert ports == {"http": HTTP_SERVICES[service], **metrics}
    probes = {
        kind: container[kind]["httpGet"]
        for kind in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert probes["readinessProbe"]["path"] == "/readyz"
    assert probes["livenessProbe"]["path"] == "/healthz"
    assert probes["startupProbe"]["path"] == "/healthz"
    assert {probe["port"] for probe in probes.values()} == {"http"}
    app = (
        create_edge_app(EdgeSettings()) if service == "edge" else create_admin_app(AdminSettings())
    )
    assert status_of(app, "/healthz") == 200
    assert status_of(app, "/readyz") != 404, "readiness is served (503 until NATS is there)"
    assert status_of(app, "/no-such-path") == 404
    if service == "edge":
        assert status_of(app, "/metrics") == 404, "metrics are off the public API port"


@pytest.mark.parametrize("service", ["router", "metering"])
async def test_monitor_probes_point_at_paths_the_monitor_server_serves(
    default: list[dict[str, Any]],
    service: str,
    clean_environ: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    container = _container(default, service)
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"metrics": MONITOR_PORT}
    env = {item["name"]: item["value"] for item in container["env"] if "value" in item}
    settings: Any = check_settings(service, env, clean_environ)
    assert settings.monitor.enabled
    assert (settings.monitor.host, settings.monitor.port) == ("0.0.0.0", MONITOR_PORT)
    probes = {
        kind: container[kind]["httpGet"]
        for kind in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert {probe["port"] for probe in probes.values()} == {"metrics"}
    # Unit tests open no network sockets: the monitor's application answers on a Unix socket.
    runner = web.AppRunner(MonitorServer(service, MonitorSettings()).application())
    await runner.setup()
    await web.UnixSite(runner, str(tmp_path / "monitor.sock")).start()
    transport = httpx.AsyncHTTPTransport(uds=str(tmp_path / "monitor.sock"))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://monitor") as client:
            for kind, probe in probes.items():
                expected = 503 if kind == "readinessProbe" else 200  # not started: not ready
                assert (await client.get(probe["path"])).status_code == expected, kind
            assert (await client.get("/metrics")).status_code == 200
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("scenario", ["default", "production"])
@pytest.mark.parametrize("service", SERVICES)
def test_pods_run_non_root_on_a_read_only_root_fs_with_limits(
    rendered: dict[str, list[dict[str, Any]]], scenario: str, service: str
) -> None:
    pod = _deployment(rendered[scenario], service)["spec"]["template"]["spec"]
    _, stages = read_image(service)
    image_uid = int(stages[-1].all("USER")[-1].args.split(":")[0])
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == image_uid
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    context = container["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]
    for bound in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][bound])
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]], "the one writable place"


def _placeholder(name: str) -> str:
    if name.endswith("REDIS__URL"):
        return "redis://redis.example:6379/0"
    if name.endswith("CLICKHOUSE_DSN"):
        return "http://default:secret@clickhouse.example:8123"
    if name.endswith(("NATS__PASSWORD", "REDIS__PASSWORD", "IP_SALT", "SESSION_SECRET")):
        return "a-password"
    if name == "TOLLWAY_ADMIN_TOKEN":
        return "tw-admin-token"
    if name == "TOLLWAY_DEV_API_KEY":
        return "sk-tollway-key"
    if name == "TOLLWAY_OAUTH_SEALING_KEY":
        return "b2F1dGgtZW5jcnlwdGlvbi1rZXktMzItYnl0ZXMhISE="
    raise AssertionError(f"{name} comes from a Secret the test does not know")


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("service", SERVICES)
def test_env_is_accepted_by_the_service(
    rendered: dict[str, list[dict[str, Any]]],
    scenario: str,
    service: str,
    clean_environ: pytest.MonkeyPatch,
) -> None:
    container = _container(rendered[scenario], service)
    names = [item["name"] for item in container["env"]]
    assert len(names) == len(set(names)), "no variable is set twice"
    env = {
        item["name"]: item["value"] if "value" in item else _placeholder(item["name"])
        for item in container["env"]
    }
    settings: Any = check_settings(service, env, clean_environ)
    assert settings.nats.replicas == 3, "JetStream R3 on the NATS cluster"
    expected_nats = SCENARIOS[scenario].get("natsUrl", "nats://tollway-nats:4222")
    assert settings.nats.url == expected_nats
    if service in HTTP_SERVICES:
        assert settings.host == "0.0.0.0"
        assert settings.port == HTTP_SERVICES[service]
    if service == "metering":
        assert settings.database == "tollway"


def test_service_settings_maps_reach_the_processes(
    production: list[dict[str, Any]], clean_environ: pytest.MonkeyPatch
) -> None:
    router_env = {
        item["name"]: item.get("value") for item in _container(production, "router")["env"]
    }
    assert router_env["TOLLWAY_ROUTER_MAX_INFLIGHT"] == "512"
    assert router_env["TOLLWAY_ROUTER_DRAIN_GRACE_S"] == "30"
    metering_env = _container(production, "metering")["env"]
    assert {"name": "TOLLWAY_METERING_BATCH_SIZE", "value": "1000"} in metering_env


def test_numbers_in_settings_keep_their_form(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """YAML numbers are float64 inside Helm; 2000000 must not become 2e+06."""
    env = {
        i["name"]: i.get("value") for i in _container(rendered["fixed-replicas"], "router")["env"]
    }
    assert env["TOLLWAY_ROUTER_HEARTBEAT_INTERVAL_S"] == "0.5"
    assert env["TOLLWAY_ROUTER_MAX_CONNECTIONS"] == "2000000"


def test_secrets_are_wired_by_reference(
    default: list[dict[str, Any]], production: list[dict[str, Any]]
) -> None:
    secret = by_kind(default, "Secret")["tollway-endpoints"]
    refs = {
        item["name"]: item["valueFrom"]["secretKeyRef"]
        for service in SERVICES
        for item in _container(default, service)["env"]
        if "valueFrom" in item
    }
    assert refs == {
        "TOLLWAY_EDGE_REDIS__URL": {"name": "tollway-endpoints", "key": "redis-url"},
        "TOLLWAY_EDGE_CLIENT_IP_SALT": {"name": "tollway-generated", "key": "client-ip-salt"},
        "TOLLWAY_OAUTH_SEALING_KEY": {"name": "tollway-generated", "key": "oauth-encryption-key"},
        "TOLLWAY_ADMIN_SESSION_SECRET": {
            "name": "tollway-generated",
            "key": "admin-session-secret",
        },
        "TOLLWAY_ADMIN_TOKEN": {"name": "tollway-generated", "key": "admin-token"},
        "TOLLWAY_DEV_API_KEY": {"name": "tollway-generated", "key": "dev-api-key"},
        "TOLLWAY_METERING_CLICKHOUSE_DSN": {"name": "tollway-endpoints", "key": "clickhouse-dsn"},
        **{
            f"TOLLWAY_{service.upper()}_NATS__PASSWORD": {
                "name": "tollway-nats-users",
                "key": service,
            }
            for service in SERVICES
        },
    }
    assert set(secret["stringData"]) == {"redis-url", "clickhouse-dsn"}
    assert "envFrom" not in _container(default, "router")

    values = production_values()
    edge_env = {item["name"]: item for item in _container(production, "edge")["env"]}
    assert edge_env["TOLLWAY_EDGE_REDIS__PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "tollway-redis-auth",
        "key": "password",
    }
    assert edge_env["TOLLWAY_EDGE_REDIS__USERNAME"]["value"] == "tollway-edge"
    assert edge_env["TOLLWAY_EDGE_REDIS__TLS_CA_FILE"]["value"] == "/etc/tollway-redis-tls/ca.crt"
    edge_ref = next(
        i for i in _container(production, "edge")["env"] if i["name"].endswith("REDIS__URL")
    )
    assert edge_ref["valueFrom"]["secretKeyRef"] == {
        "name": values["redis"]["existingSecret"],
        "key": values["redis"]["existingSecretKey"],
    }
    router_from = _container(production, "router")["envFrom"]
    admin_from = _container(production, "admin")["envFrom"]
    assert router_from == [{"secretRef": {"name": values["upstreamKeysSecret"]}}]
    assert admin_from == [{"secretRef": {"name": values["clientKeysSecret"]}}]
    for service in ("edge", "metering"):
        assert "envFrom" not in _container(production, service), "keys only where needed"


@pytest.mark.parametrize("scenario", ["default", "production"])
def test_config_map_is_a_valid_tollway_config(
    rendered: dict[str, list[dict[str, Any]]], scenario: str, tmp_path: Path
) -> None:
    documents = rendered[scenario]
    config_map = by_kind(documents, "ConfigMap")["tollway-config"]
    config_file = tmp_path / "tollway.yaml"
    config_file.write_text(config_map["data"]["tollway.yaml"])
    config = load_config(config_file)
    assert config.models

    container = _container(documents, "admin")
    path = Path(
        next(i["value"] for i in container["env"] if i["name"] == "TOLLWAY_ADMIN_CONFIG_FILE")
    )
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == str(path.parent)]
    assert "subPath" not in mount, "a subPath mount never sees ConfigMap updates"
    pod = _deployment(documents, "admin")["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["configMap"]["name"] == "tollway-config"
    assert path.name in config_map["data"]


def test_an_existing_config_map_replaces_the_chart_one(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    documents = rendered["fixed-replicas"]
    assert "ConfigMap" not in {d["kind"] for d in documents}
    pod = _deployment(documents, "admin")["spec"]["template"]["spec"]
    names = {v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v}
    assert names == {"my-tollway-config"}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_selectors_select_the_pods(
    rendered: dict[str, list[dict[str, Any]]], scenario: str
) -> None:
    documents = rendered[scenario]
    deployments = by_kind(documents, "Deployment")
    pods = {component(d): d["spec"]["template"]["metadata"]["labels"] for d in deployments.values()}
    for deployment in deployments.values():
        assert _matches(deployment["spec"]["selector"]["matchLabels"], pods[component(deployment)])
    container_ports = {
        component(d): {p["name"] for p in _container(documents, component(d)).get("ports", [])}
        for d in deployments.values()
    }
    services = by_kind(documents, "Service")
    for service in services.values():
        target = component(service)
        assert _matches(service["spec"]["selector"], pods[target])
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in container_ports[target]
    for pdb in by_kind(documents, "PodDisruptionBudget").values():
        assert _matches(pdb["spec"]["selector"]["matchLabels"], pods[component(pdb)])
    for policy in by_kind(documents, "NetworkPolicy").values():
        assert _matches(policy["spec"]["podSelector"]["matchLabels"], pods[component(policy)])
    for hpa in by_kind(documents, "HorizontalPodAutoscaler").values():
        scaled = deployments[hpa["spec"]["scaleTargetRef"]["name"]]
        assert "replicas" not in scaled["spec"], "the HPA owns the replica count"
    for monitor in by_kind(documents, "ServiceMonitor").values():
        selected = [
            s
            for s in services.values()
            if _matches(monitor["spec"]["selector"]["matchLabels"], s["metadata"]["labels"])
        ]
        assert len(selected) == 1, monitor["metadata"]["name"]
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["path"] == "/metrics"
        assert endpoint["port"] in {p["name"] for p in selected[0]["spec"]["ports"]}
    for ingress in by_kind(documents, "Ingress").values():
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                service = services[backend["name"]]
                assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}


def test_network_policies_let_each_service_reach_only_what_it_needs(
    default: list[dict[str, Any]],
) -> None:
    policies = {component(p): p["spec"] for p in by_kind(default, "NetworkPolicy").values()}

    def egress_ports(service: str) -> set[int]:
        return {
            port["port"] for rule in policies[service]["egress"] for port in rule.get("ports", [])
        }

    # 443: the OIDC issuer (edge and admin) and budget webhooks (admin), on by default
    assert egress_ports("edge") == {53, 4222, 6379, 443}
    assert egress_ports("metering") == {53, 4222, 8123, 8443}
    assert egress_ports("admin") == {53, 4222, 443}
    assert {} in policies["router"]["egress"], "upstream providers can be anywhere"
    assert policies["router"]["ingress"] == []
    assert policies["metering"]["ingress"] == []
    assert policies["edge"]["ingress"] == [{"ports": [{"port": "http", "protocol": "TCP"}]}]


def test_bundled_nats_is_a_three_node_jetstream_cluster_taking_8mb_messages() -> None:
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    nats = values["nats"]
    assert nats["enabled"] is True
    assert nats["config"]["cluster"] == {"enabled": True, "replicas": 3}
    assert nats["config"]["jetstream"]["enabled"] is True
    assert nats["config"]["merge"]["max_payload"] == "<< 8MB >>"
    assert values["jetstreamReplicas"] <= nats["config"]["cluster"]["replicas"]


def test_bundled_nats_closes_the_bus_with_the_generated_users_and_tls() -> None:
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    nats = values["nats"]
    expected = []
    for service in Service:
        entry = permissions(service)
        rules: dict[str, Any] = {
            "publish": {"allow": list(entry.publish)},
            "subscribe": {"allow": list(entry.subscribe)},
        }
        if entry.allow_responses:
            rules["allow_responses"] = True
        password = f"<< ${service.value.upper()}_PASSWORD >>"
        expected.append({"user": service.value, "password": password, "permissions": rules})
    assert nats["config"]["merge"]["authorization"] == {"users": expected}
    env = nats["container"]["env"]
    for service in Service:
        ref = env[f"{service.value.upper()}_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": values["natsAuth"]["secretName"], "key": service.value}
    assert values["natsTls"]["enabled"] is True, "TLS to NATS is on by default"
    assert nats["config"]["nats"]["tls"] == {
        "enabled": values["natsTls"]["enabled"],
        "secretName": values["natsTls"]["secretName"],
    }


def test_each_service_reads_only_its_own_nats_password(default: list[dict[str, Any]]) -> None:
    secret = by_kind(default, "Secret")["tollway-nats-users"]
    assert set(secret["data"]) == {service.value for service in Service}
    for service in Service:
        (container,) = by_kind(default, "Deployment")[f"tollway-{service.value}"]["spec"][
            "template"
        ]["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        prefix = f"TOLLWAY_{service.value.upper()}_NATS__"
        assert env[f"{prefix}USER"]["value"] == service.value
        ref = env[f"{prefix}PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "tollway-nats-users", "key": service.value}
        assert env[f"{prefix}TLS_CA_FILE"]["value"] == "/etc/tollway-nats-ca/ca.crt"
        keys = {
            e["valueFrom"]["secretKeyRef"]["key"]
            for e in container["env"]
            if "secretKeyRef" in e.get("valueFrom", {})
            and e["valueFrom"]["secretKeyRef"]["name"] == "tollway-nats-users"
        }
        assert keys == {service.value}


def test_bad_values_fail_the_render_with_a_reason() -> None:
    with pytest.raises(helm.HelmRenderError, match="needs a ClickHouse server"):
        render_chart({"clickhouse": {"dsn": "chdb:///data"}})
    with pytest.raises(helm.HelmRenderError, match="set natsUrl"):
        render_chart({"nats": {"enabled": False}})
    with pytest.raises(helm.HelmRenderError, match="needs at least one host"):
        render_chart({"edge": {"ingress": {"enabled": True}}})


def _leaves(values: dict[str, Any], prefix: str = "") -> list[str]:
    found = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        opaque = path in ("config", "podSecurityContext", "securityContext")
        if isinstance(value, dict) and value and not opaque and key != "resources":
            found += _leaves(value, path + ".")
        else:
            found.append(path)
    return found


def test_every_value_is_documented() -> None:
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    documented = set(re.findall(r"^\| `([^`]+)`", (ROOT / "docs/deploy.md").read_text(), re.M))
    missing = []
    for path in _leaves(values):
        generic = re.sub(r"^(edge|router|metering|admin)\.", "<service>.", path)
        generic = re.sub(
            r"\.(EDGE|ROUTER|METERING|ADMIN)_PASSWORD\.", ".<SERVICE>_PASSWORD.", generic
        )
        if path not in documented and generic not in documented:
            missing.append(path)
    assert not missing, "add these to the values table in docs/deploy.md"


def test_the_alert_rules_watch_the_limits_failure_counter(
    production: list[dict[str, Any]],
) -> None:
    (rule,) = by_kind(production, "PrometheusRule").values()
    alerts = {r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"]}
    expr = alerts["TollwayLimitsUnavailable"]["expr"]
    assert f"{LIMITS_UNAVAILABLE._name}_total" in expr
    assert "by (kind, mode)" in expr
    assert "{{ $labels.kind }}" in alerts["TollwayLimitsUnavailable"]["annotations"]["summary"]


def test_trusted_hosts_name_the_services_and_the_ingress(production: list[dict[str, Any]]) -> None:
    for service in ("edge", "admin"):
        env = {item["name"]: item for item in _container(production, service)["env"]}
        hosts = json.loads(env[f"TOLLWAY_{service.upper()}_TRUSTED_HOSTS"]["value"])
        assert {"localhost", f"tollway-{service}.tollway.svc.cluster.local"} <= set(hosts)
    edge_env = {item["name"]: item for item in _container(production, "edge")["env"]}
    ingress_hosts = production_values()["edge"]["ingress"]["hosts"]
    assert set(ingress_hosts) <= set(json.loads(edge_env["TOLLWAY_EDGE_TRUSTED_HOSTS"]["value"]))


def test_the_edge_is_scraped_on_its_metrics_port_not_its_public_service(
    production: list[dict[str, Any]],
) -> None:
    services = by_kind(production, "Service")
    public = services["tollway-edge"]
    assert [port["name"] for port in public["spec"]["ports"]] == ["http"]
    assert "tollway.io/metrics" not in public["metadata"]["labels"]
    metrics = services["tollway-edge-metrics"]
    assert metrics["spec"]["ports"][0]["targetPort"] == "metrics"
    monitor = by_kind(production, "ServiceMonitor")["tollway-edge"]
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    policy = by_kind(production, "NetworkPolicy")["tollway-edge"]
    ports = [port["port"] for rule in policy["spec"]["ingress"] for port in rule["ports"]]
    assert ports == ["http", "metrics"]


def _egress(documents: list[dict[str, Any]], service: str) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = by_kind(documents, "NetworkPolicy")[f"tollway-{service}"]["spec"][
        "egress"
    ]
    return rules


def _ports(rule: dict[str, Any]) -> set[int]:
    return {port["port"] for port in rule.get("ports", [])}


def test_a_plain_install_generates_a_client_key_and_an_admin_token(
    default: list[dict[str, Any]],
) -> None:
    secret = by_kind(default, "Secret")["tollway-generated"]
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    data = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
    assert set(data) == {
        "client-ip-salt",
        "oauth-encryption-key",
        "admin-session-secret",
        "admin-token",
        "dev-api-key",
    }
    assert len(base64.urlsafe_b64decode(data["oauth-encryption-key"])) == 32  # a Fernet key
    assert re.fullmatch(r"tw-admin-[A-Za-z0-9]{32}", data["admin-token"])
    assert re.fullmatch(r"sk-tollway-[A-Za-z0-9]{40}", data["dev-api-key"])
    assert all(len(value) >= 40 for value in data.values())
    # The default config's `dev` key reads the generated key; the admin token signs in.
    config = yaml.safe_load(by_kind(default, "ConfigMap")["tollway-config"]["data"]["tollway.yaml"])
    assert {"name": "dev", "secret": "env:TOLLWAY_DEV_API_KEY"} in config["keys"]
    admin_env = {item["name"]: item for item in _container(default, "admin")["env"]}
    for name, key in (
        ("TOLLWAY_DEV_API_KEY", "dev-api-key"),
        ("TOLLWAY_ADMIN_TOKEN", "admin-token"),
    ):
        ref = admin_env[name]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "tollway-generated", "key": key}


def test_generated_values_are_read_back_before_new_ones_are_made() -> None:
    """Offline, `lookup` finds nothing, so this checks the template's order: an existing
    Secret's value wins over a fresh one (what keeps keys and tokens across upgrades)."""
    template = (CHART_DIR / "templates/generated-secret.yaml").read_text()
    assert 'lookup "v1" "Secret" .Release.Namespace $name' in template
    assert "get $data $key | default ($value | b64enc)" in template


def test_own_secrets_replace_the_generated_ones(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    documents = rendered["own-secrets-closed-egress"]
    secret = by_kind(documents, "Secret")["tollway-generated"]
    assert set(secret["data"]) == {"client-ip-salt", "oauth-encryption-key"}
    admin = _container(documents, "admin")
    names = {item["name"] for item in admin["env"]}
    assert not names & {"TOLLWAY_DEV_API_KEY", "TOLLWAY_ADMIN_TOKEN"}
    sources = [entry["secretRef"]["name"] for entry in admin["envFrom"]]
    assert sources == ["tollway-client-keys", "tollway-admin"]


def test_egress_switches_open_what_oidc_webhooks_and_upstreams_need(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    default = rendered["default"]
    for service in ("edge", "admin"):
        https = [rule for rule in _egress(default, service) if _ports(rule) == {443}]
        assert https, service
        assert all("to" not in rule for rule in https), service
    assert len([r for r in _egress(default, "admin") if _ports(r) == {443}]) == 2, "+ webhooks"
    assert not any(443 in _ports(rule) for rule in _egress(default, "metering"))

    closed = rendered["own-secrets-closed-egress"]
    for service in ("edge", "admin"):
        (oidc,) = [rule for rule in _egress(closed, service) if _ports(rule) == {8443}]
        assert oidc["to"] == [{"ipBlock": {"cidr": "203.0.113.0/24"}}]
        assert not any(443 in _ports(rule) for rule in _egress(closed, service)), "no webhooks"
    router = _egress(closed, "router")
    assert {} not in router, "no upstreams"
    assert all(_ports(rule) for rule in router), "only DNS and NATS"


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"edge": {"replicas": "two"}}, "/edge/replicas"),
        ({"networkPolicy": {"egress": {"oidc": {"enabled": "yes"}}}}, "/networkPolicy/egress"),
        ({"log": {"level": "LOUD"}}, "/log/level"),
        ({"edge": {"service": {"port": 70000}}}, "/edge/service/port"),
        ({"routerEgresTo": []}, "routerEgresTo"),
        ({"admin": {"setings": {"x": 1}}}, "setings"),
    ],
)
def test_the_values_schema_refuses_wrong_types_and_misspelt_keys(
    values: dict[str, Any], where: str
) -> None:
    with pytest.raises(helm.HelmValuesError, match=re.escape(where)):
        render_chart(values)


def test_the_values_schema_types_every_value() -> None:
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())

    def untyped(node: dict[str, Any], value: Any, path: str) -> list[str]:
        if "type" not in node:
            return [path]
        if node["type"] != "object" or not isinstance(value, dict) or "properties" not in node:
            return []
        if path == "nats":  # the NATS chart's own values
            return []
        assert node.get("additionalProperties") is False, path
        found = []
        for key, item in value.items():
            child = node["properties"].get(key)
            found += [f"{path}.{key}"] if child is None else untyped(child, item, f"{path}.{key}")
        return found

    assert schema["additionalProperties"] is False
    assert [
        p for key, v in values.items() for p in untyped(schema["properties"][key], v, key)
    ] == []


def test_the_helm_test_pod_calls_the_edge_with_a_key(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    default = rendered["default"]
    (pod,) = by_kind(default, "Pod").values()
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    spec = pod["spec"]
    assert spec["restartPolicy"] == "Never"
    assert spec["securityContext"]["runAsNonRoot"] is True
    (container,) = spec["containers"]
    assert container["image"] == _container(default, "edge")["image"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    env = {item["name"]: item for item in container["env"]}
    base_url = env["TOLLWAY_TEST_BASE_URL"]["value"]
    assert base_url == "http://tollway-edge.tollway.svc:80"
    host = base_url.removeprefix("http://").split(":")[0]
    edge_env = {item["name"]: item for item in _container(default, "edge")["env"]}
    assert host in json.loads(edge_env["TOLLWAY_EDGE_TRUSTED_HOSTS"]["value"])
    ref = env["TOLLWAY_TEST_API_KEY"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "tollway-generated", "key": "dev-api-key"}
    script = container["args"][0]
    assert '"/healthz"' in script
    assert '"/v1/models"' in script
    assert "Bearer" in script
    compile(script, "helm-test", "exec")

    (own,) = by_kind(rendered["own-secrets-closed-egress"], "Pod").values()
    (own_container,) = own["spec"]["containers"]
    own_env = {item["name"]: item for item in own_container["env"]}
    own_ref = own_env["TOLLWAY_TEST_API_KEY"]["valueFrom"]["secretKeyRef"]
    assert own_ref == {"name": "tollway-test-key", "key": "key"}


def test_a_closed_edge_ingress_still_admits_the_helm_test_pod(
    production: list[dict[str, Any]],
) -> None:
    (pod,) = by_kind(production, "Pod").values()
    policy = by_kind(production, "NetworkPolicy")["tollway-edge"]["spec"]
    (api,) = [rule for rule in policy["ingress"] if rule["ports"][0]["port"] == "http"]
    selectors = [
        peer["podSelector"]["matchLabels"] for peer in api["from"] if "podSelector" in peer
    ]
    assert any(_matches(selector, pod["metadata"]["labels"]) for selector in selectors)


def test_chart_lock_is_in_step_with_chart_yaml() -> None:
    """Helm's digest of the lock (resolver.HashReq): SHA-256 of the JSON pair [Chart.yaml's
    dependencies, the lock's dependencies]; `helm dependency build` refuses a lock whose digest
    differs ("out of sync"). Checked once against Helm's own build."""
    chart = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
    lock = yaml.safe_load((CHART_DIR / "Chart.lock").read_text())
    fields = ("name", "version", "repository", "condition")
    required = [{k: d[k] for k in fields if d.get(k)} for d in chart["dependencies"]]
    locked = [{k: d[k] for k in ("name", "version", "repository")} for d in lock["dependencies"]]
    assert [d["version"] for d in locked] == [d["version"] for d in required]
    payload = json.dumps([required, locked], separators=(",", ":"))
    assert lock["digest"] == "sha256:" + hashlib.sha256(payload.encode()).hexdigest()
    assert "charts/" in (ROOT / ".gitignore").read_text()


def test_every_alert_reads_documented_series_and_the_issue_alerts_exist(
    production: list[dict[str, Any]],
) -> None:
    (rule,) = by_kind(production, "PrometheusRule").values()
    rules = {r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"]}
    for name, alert in rules.items():
        assert problems(alert["expr"], alert["annotations"].values()) == [], name
    assert {
        "TollwayErrorRate",
        "TollwayLimitsUnavailable",
        "TollwayMeteringLag",
        "TollwayUnpricedModel",
        "TollwayBudgetNearLimit",
        "TollwayBudgetExhausted",
    } <= set(rules)
    assert 'kind="budget_soft_limit"' in rules["TollwayBudgetNearLimit"]["expr"]
    assert 'kind="budget_exceeded"' in rules["TollwayBudgetExhausted"]["expr"]


def test_aks_workload_identity_is_the_routers_alone(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    documents = rendered["aks-workload-identity"]
    accounts = by_kind(documents, "ServiceAccount")
    router_account = accounts["tollway-router"]
    assert router_account["metadata"]["annotations"] == {
        "azure.workload.identity/client-id": "33333333-4444-5555-6666-777777777777",
        "azure.workload.identity/tenant-id": "fabrikam.onmicrosoft.com",
    }
    assert router_account["automountServiceAccountToken"] is False
    for service in SERVICES:
        template = _deployment(documents, service)["spec"]["template"]
        label = template["metadata"]["labels"].get("azure.workload.identity/use")
        account = template["spec"]["serviceAccountName"]
        if service == "router":
            assert (label, account) == ("true", "tollway-router")
        else:
            assert (label, account) == (None, "tollway"), "only the router signs in to Azure"
    default_templates = [
        _deployment(rendered["default"], service)["spec"]["template"] for service in SERVICES
    ]
    assert "tollway-router" not in by_kind(rendered["default"], "ServiceAccount")
    assert all(
        "azure.workload.identity/use" not in template["metadata"]["labels"]
        for template in default_templates
    )


def test_aks_workload_identity_needs_the_client_id() -> None:
    with pytest.raises((helm.HelmValuesError, helm.HelmRenderError), match="clientId"):
        render_chart({"router": {"azureWorkloadIdentity": {"enabled": True}}})
