"""The operations dashboard (Grafana, Prometheus data source): every PromQL query names metrics
docs/metrics.md lists with the type it gives them and the code registers, matches and groups
by labels those metrics carry, and names scrape jobs the compose Prometheus has. No PromQL
engine runs offline, so the queries are checked by their parts."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY
from tests.unit.deploy.promql import documented_metrics, problems
from tests.unit.deploy.support import COMPOSE_DIR, SERVICES

# Importing the metrics modules registers every metric the services define.
from tollway_admin import metrics as _admin_metrics  # noqa: F401
from tollway_common import http_metrics as _http_metrics  # noqa: F401
from tollway_common import metrics as _common_metrics  # noqa: F401
from tollway_edge import metrics as _edge_metrics  # noqa: F401
from tollway_metering import metrics as _metering_metrics  # noqa: F401
from tollway_router import metrics as _router_metrics  # noqa: F401

BOARD = COMPOSE_DIR / "grafana/dashboards/tollway-operations.json"
DATASOURCE = {"type": "prometheus", "uid": "tollway-prometheus"}


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
        collector._name: (collector._type, frozenset(collector._labelnames))  # type: ignore[attr-defined]
        for collector in list(REGISTRY._collector_to_names)
        if getattr(collector, "_name", "").startswith("tollway_")
    }
    for name, (kind, labels) in registered.items():
        doc_name = f"{name}_total" if kind == "counter" else name
        assert documented_metrics()[doc_name] == (kind, labels), name


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
    assert problems(target["expr"], [target["legendFormat"]], _jobs()) == [], panel


def test_every_service_is_a_scrape_job() -> None:
    assert _jobs() == set(SERVICES)


def test_the_checker_finds_unknown_series_labels_and_dropped_legend_labels() -> None:
    assert problems("rate(tollway_nope_total[5m])") == [
        "tollway_nope_total is not in docs/metrics.md",
        "reads no series",
    ]
    expr = 'sum by (foo) (rate(tollway_http_requests_total{stauts="5..", job="edg"}[5m]))'
    assert problems(expr, ["{{ $labels.model }}"], {"edge"}) == [
        "tollway_http_requests_total has no label stauts",
        "no scrape job edg",
        "groups by ['foo'], which no series carries",
        "'{{ $labels.model }}' names ['model'], which the query drops",
    ]
