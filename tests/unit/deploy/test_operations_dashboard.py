"""The operations dashboard (Grafana, Prometheus data source): every PromQL query names metrics
docs/metrics.md lists with the type it gives them and the code registers, matches and groups
by labels those metrics carry, and names scrape jobs the compose Prometheus has. No PromQL
engine runs offline, so the queries are checked by their parts."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY
from tests.unit.deploy.support import COMPOSE_DIR, ROOT, SERVICES

# Importing the metrics modules registers every metric the services define.
from tollway_admin import metrics as _admin_metrics  # noqa: F401
from tollway_common import http_metrics as _http_metrics  # noqa: F401
from tollway_common import metrics as _common_metrics  # noqa: F401
from tollway_edge import metrics as _edge_metrics  # noqa: F401
from tollway_metering import metrics as _metering_metrics  # noqa: F401
from tollway_router import metrics as _router_metrics  # noqa: F401

BOARD = COMPOSE_DIR / "grafana/dashboards/tollway-operations.json"
DATASOURCE = {"type": "prometheus", "uid": "tollway-prometheus"}
# Labels Prometheus adds to every series it scrapes, and the bucket bound of histograms.
SCRAPE_LABELS = {"job", "instance"}
# Prometheus' own series beside the services' ones.
BUILTIN = {"up": set[str]()}
_SELECTOR = re.compile(r"\b([a-z_][a-z0-9_]*)\s*(\{[^}]*\})?")
_MATCHER = re.compile(r'([a-z_]+)\s*(=~|!~|!=|=)\s*"([^"]*)"')
_BY = re.compile(r"\bby\s*\(([^)]*)\)")
_FUNCTIONS = {
    "sum", "max", "min", "avg", "count", "by", "rate", "increase", "histogram_quantile",
    "on", "ignoring", "without",
}  # fmt: skip


def _documented() -> dict[str, tuple[str, set[str]]]:
    """docs/metrics.md's tables: name -> (type, labels)."""
    found: dict[str, tuple[str, set[str]]] = {}
    for line in (ROOT / "docs/metrics.md").read_text().splitlines():
        row = re.match(r"^\| `(tollway_[a-z_]+)` \| (\w+) \|([^|]*)\|", line)
        if row:
            labels = re.sub(r"\([^)]*\)", "", row.group(3))
            found[row.group(1)] = (row.group(2), set(re.findall(r"`([a-z_]+)`", labels)))
    return found


DOCUMENTED = _documented()


def _series(documented: dict[str, tuple[str, set[str]]]) -> dict[str, set[str]]:
    """Every series name a query may read, with its labels (histograms: _bucket with `le`,
    _sum, _count)."""
    series: dict[str, set[str]] = {name: set(labels) for name, labels in BUILTIN.items()}
    for name, (kind, labels) in documented.items():
        if kind == "histogram":
            series[f"{name}_bucket"] = labels | {"le"}
            series[f"{name}_sum"] = series[f"{name}_count"] = labels
        else:
            series[name] = labels
    return series


SERIES = _series(DOCUMENTED)


def _board() -> dict[str, Any]:
    board = json.loads(BOARD.read_text())
    assert isinstance(board, dict)
    return board


def _targets() -> list[tuple[str, dict[str, Any]]]:
    return [(p["title"], t) for p in _board()["panels"] for t in p["targets"]]


def _jobs() -> set[str]:
    config = yaml.safe_load((COMPOSE_DIR / "prometheus/prometheus.yml").read_text())
    return {job["job_name"] for job in config["scrape_configs"]}


def test_the_documented_metrics_are_the_ones_the_code_registers() -> None:
    registered = {
        collector._name: (collector._type, set(collector._labelnames))  # type: ignore[attr-defined]
        for collector in list(REGISTRY._collector_to_names)
        if getattr(collector, "_name", "").startswith("tollway_")
    }
    for name, (kind, labels) in registered.items():
        doc_name = f"{name}_total" if kind == "counter" else name
        assert DOCUMENTED[doc_name] == (kind, labels), name


def test_the_board_reads_prometheus_and_is_well_formed() -> None:
    board = _board()
    assert board["uid"] == BOARD.stem
    panels = board["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    assert len({panel["title"] for panel in panels}) == len(panels)
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        assert panel["datasource"] == DATASOURCE
        assert panel["description"], "every panel says what it shows"
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE
            assert target["expr"].count("(") == target["expr"].count(")"), panel["title"]


def test_the_board_answers_the_operations_questions() -> None:
    text = json.dumps(_board())
    for metric in (
        "tollway_time_to_first_token_seconds_bucket",  # TTFT, gateway overhead
        "tollway_upstream_time_to_first_token_seconds_bucket",  # gateway overhead
        "tollway_http_requests_total",  # errors by code
        "tollway_deployment_state",  # deployment health
        "tollway_metering_consumer_pending",  # metering lag
    ):
        assert metric in text, metric


@pytest.mark.parametrize(("panel", "target"), _targets(), ids=lambda v: str(v)[:40])
def test_every_query_reads_documented_series_and_their_labels(
    panel: str, target: dict[str, Any]
) -> None:
    expr = target["expr"]
    names: set[str] = set()
    labels: set[str] = set(SCRAPE_LABELS)
    for name, matchers in _SELECTOR.findall(expr):
        if (
            name in _FUNCTIONS
            or name in ("le",)
            or not (name.startswith("tollway_") or name in BUILTIN)
        ):
            continue
        assert name in SERIES, f"{panel}: {name} is not in docs/metrics.md"
        names.add(name)
        labels |= SERIES[name]
        for label, _, value in _MATCHER.findall(matchers):
            assert label in SERIES[name] | SCRAPE_LABELS, f"{panel}: {name} has no {label}"
            if label == "job":
                assert set(value.split("|")) <= _jobs(), f"{panel}: no scrape job {value}"
    assert names, f"{panel}: reads no series"
    grouped: set[str] = set()
    for by in _BY.findall(expr):
        group = {label.strip() for label in by.split(",")}
        assert group <= labels, f"{panel}: groups by {group - labels}"
        grouped |= group
    legend = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", target["legendFormat"]))
    assert legend <= (grouped or labels), f"{panel}: legend names {legend - grouped}"


def test_every_service_is_a_scrape_job() -> None:
    assert _jobs() == set(SERVICES)
