"""Every Grafana dashboard under deploy/: each panel's SQL (and each variable's), expanded as
Grafana and the ClickHouse data source expand it, runs in chDB against the tables metering's
migrations create, seeded with known rows; every panel answers with the columns its
visualisation needs, and the headline numbers match what is computed here by hand.

Each query runs twice: with every variable at All, and with org/team/model selected."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.unit.deploy.grafana import ALL, QueryContext, expand
from tests.unit.deploy.support import COMPOSE_DIR, ROOT

DATASOURCE = {"type": "grafana-clickhouse-datasource", "uid": "tollway-clickhouse"}
# The ClickHouse dashboards; the operations dashboard reads Prometheus
# (test_operations_dashboard.py).
DASHBOARDS = sorted(
    path
    for path in (COMPOSE_DIR / "grafana/dashboards").glob("*.json")
    if json.loads(path.read_text())["panels"][0]["datasource"] == DATASOURCE
)
NOW = datetime.now(UTC).replace(microsecond=0)
START, END = NOW - timedelta(days=1), NOW + timedelta(minutes=5)
SELECTED = {"org": ["acme"], "team": ["ml"], "model": ["gpt-4o"]}
TIME_TYPES = ("DateTime", "DateTime64", "Date")


def _usage(
    n: int, team: str, key: str, model: str, minutes_ago: int, **extra: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "request_id": f"req-{n}",
        "received_at": (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%d %H:%M:%S.000"),
        "org_id": "beta" if team == "ops" else "acme",
        "team_id": team,
        "key_id": key,
        "key_name": f"name-{key}",
        "model_alias": model,
        "deployment": f"{model}-east",
        "provider": "anthropic" if model == "claude" else "openai",
        "endpoint": "chat_completions",
        "status_code": 200,
        "latency_ms": 100.0,
        "currency": "USD",
        "source": "router",
        "source_rank": 2,
    }
    row.update(extra)
    return row


USAGE = [
    _usage(
        1,
        "ml",
        "k1",
        "gpt-4o",
        50,
        prompt_tokens=1000,
        completion_tokens=500,
        cached_read_tokens=400,
        cost="0.0075",
        stream=True,
        ttft_ms=120.0,
        latency_ms=800.0,
        upstream_latency_ms=700.0,
        retries=1,
        credential="pool-a",
    ),
    _usage(
        2,
        "ml",
        "k1",
        "gpt-4o",
        40,
        prompt_tokens=2000,
        completion_tokens=1000,
        cost="0.015",
        latency_ms=1200.0,
        upstream_latency_ms=1100.0,
        credential="pool-b",
    ),
    _usage(
        3,
        "ml",
        "k2",
        "gpt-4o",
        30,
        prompt_tokens=100,
        cost="0.00025",
        status_code=500,
        error_type="server_error",
        error_code="upstream_error",
        fallbacks=1,
        latency_ms=3000.0,
        upstream_latency_ms=2900.0,
    ),
    _usage(
        4,
        "ml",
        "k2",
        "llama",
        20,
        prompt_tokens=50,
        completion_tokens=50,
        unpriced=True,
        currency="",
        stream=True,
        ttft_ms=40.0,
        usage_estimated=True,
    ),
    _usage(
        5,
        "web",
        "k3",
        "claude",
        10,
        prompt_tokens=20,
        status_code=429,
        error_type="rate_limit_error",
        error_code="upstream_rate_limited",
    ),
    _usage(6, "ops", "k4", "gpt-4o", 5, prompt_tokens=200, completion_tokens=100, cost="0.002"),
]
REDELIVERED = [USAGE[0], USAGE[1]]  # the same events inserted again: FINAL counts them once
ALERTS = [
    {
        "alert_id": "a-soft",
        "at": (NOW - timedelta(minutes=35)).strftime("%Y-%m-%d %H:%M:%S"),
        "kind": "budget_soft_limit",
        "owner": "team 'ml'",
        "budget_id": "ml-monthly",
        "period_start": int(NOW.replace(day=1, hour=0, minute=0, second=0).timestamp()),
        "limit_amount": "0.02",
        "spent": "0.0165",
        "currency": "USD",
        "message": "80 %",
    },
    {
        "alert_id": "a-hard",
        "at": (NOW - timedelta(minutes=25)).strftime("%Y-%m-%d %H:%M:%S"),
        "kind": "budget_exceeded",
        "owner": "key 'ci'",
        "budget_id": "ci-daily",
        "period_start": int(NOW.replace(hour=0, minute=0, second=0).timestamp()),
        "limit_amount": "1",
        "currency": "USD",
        "message": "reached",
    },
    {
        "alert_id": "a-unpriced",
        "at": (NOW - timedelta(minutes=20)).strftime("%Y-%m-%d %H:%M:%S"),
        "kind": "unpriced_model",
        "model_alias": "llama",
        "message": "no price",
    },
]
SEED = [
    "INSERT INTO tollway.usage_requests FORMAT JSONEachRow "
    + "\n".join(json.dumps(row) for row in USAGE + REDELIVERED),
    "INSERT INTO tollway.alerts FORMAT JSONEachRow " + "\n".join(json.dumps(a) for a in ALERTS),
]

_RUNNER = textwrap.dedent(
    """
    import json, sys
    from chdb import session
    from tollway_metering.migrations import Retention, load_migrations
    job = json.load(sys.stdin)
    db = session.Session()
    db.query("SET output_format_json_quote_64bit_integers = 0")
    db.query("CREATE DATABASE tollway")
    for migration in load_migrations():
        for statement in migration.statements(database="tollway", **Retention().values()):
            db.query(statement)
    for statement in job["seed"]:
        db.query(statement)
    answers = {}
    for name, sql in job["queries"].items():
        try:
            result = json.loads(db.query(sql, "JSON").bytes())
            answers[name] = {"meta": result["meta"], "data": result["data"]}
        except Exception as exc:
            answers[name] = {"error": str(exc)}
    print(json.dumps(answers))
    """
)


def _run(queries: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Seeded chDB in a child process: one chDB engine per process."""
    result = subprocess.run(
        [sys.executable, "-c", _RUNNER],
        input=json.dumps({"seed": SEED, "queries": queries}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answers: dict[str, dict[str, Any]] = json.loads(result.stdout)
    failed = {name: a["error"][:500] for name, a in answers.items() if "error" in a}
    assert not failed, failed
    return answers


@dataclass(frozen=True)
class Panel:
    dashboard: str
    title: str
    kind: str
    target: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.dashboard}: {self.title}"


def _load(path: Path) -> dict[str, Any]:
    board = json.loads(path.read_text())
    assert isinstance(board, dict)
    return board


def _panels() -> list[Panel]:
    panels = []
    for path in DASHBOARDS:
        board = _load(path)
        for panel in board["panels"]:
            (target,) = panel["targets"]
            panels.append(Panel(board["uid"], panel["title"], panel["type"], target))
    return panels


def _variables(board: dict[str, Any]) -> list[dict[str, Any]]:
    return list(board["templating"]["list"])


def _context(values: dict[str, list[str]], options: dict[str, list[str]]) -> QueryContext:
    return QueryContext(START, END, 60, values, options)


@pytest.fixture(scope="module")
def options() -> dict[str, dict[str, list[str]]]:
    """Each dashboard's variable options, resolved in order as Grafana does (a variable's
    query sees the variables before it): with all at All, and along the selection."""
    resolved: dict[str, dict[str, list[str]]] = {}
    for state in ("all", "selected"):
        pending = {path.stem: _variables(_load(path)) for path in DASHBOARDS}
        known: dict[str, dict[str, list[str]]] = {name: {} for name in pending}
        values: dict[str, dict[str, list[str]]] = {name: {} for name in pending}
        while any(pending.values()):
            queries = {}
            for name, variables in pending.items():
                if variables:
                    var = variables[0]
                    ctx = _context(values[name], known[name])
                    queries[f"{name}/{var['name']}"] = expand(var["query"], ctx)
            answers = _run(queries)
            for key, answer in answers.items():
                name, var_name = key.split("/")
                known[name][var_name] = [next(iter(row.values())) for row in answer["data"]]
                values[name][var_name] = SELECTED[var_name] if state == "selected" else [ALL]
                pending[name].pop(0)
        for name in known:
            resolved[f"{state}/{name}"] = known[name]
    return resolved


@pytest.fixture(scope="module")
def results(options: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, Any]]:
    queries = {}
    for state in ("all", "selected"):
        for path in DASHBOARDS:
            board = _load(path)
            names = [var["name"] for var in _variables(board)]
            values = {n: (SELECTED[n] if state == "selected" else [ALL]) for n in names}
            for panel in board["panels"]:
                sql = panel["targets"][0]["rawSql"]
                queries[f"{state}/{board['uid']}: {panel['title']}"] = expand(
                    sql, _context(values, options[f"{state}/{path.stem}"])
                )
    return _run(queries)


def test_there_is_a_dashboard_for_each_question() -> None:
    assert {_load(path)["uid"] for path in DASHBOARDS} == {
        "tollway-traffic",
        "tollway-latency",
        "tollway-cost",
        "tollway-budgets",
    }


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_is_well_formed(path: Path) -> None:
    board = _load(path)
    panels = board["panels"]
    assert board["uid"] == path.stem
    assert len({panel["id"] for panel in panels}) == len(panels)
    assert len({panel["title"] for panel in panels}) == len(panels)
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        assert panel["datasource"] == DATASOURCE
        assert panel["description"], "every panel says what it shows"
        (target,) = panel["targets"]
        assert target["datasource"] == DATASOURCE
        assert target["editorType"] == "sql"
        series = panel["type"] == "timeseries"
        assert (target["queryType"], target["format"]) == (
            ("timeseries", 0) if series else ("table", 1)
        ), panel["title"]
    for var in _variables(board):
        assert var["datasource"] == DATASOURCE
        assert var["current"]["value"] == [ALL]


def test_the_selection_is_among_the_variable_options(
    options: dict[str, dict[str, list[str]]],
) -> None:
    for key, variables in options.items():
        for name, values in variables.items():
            assert set(SELECTED[name]) <= set(values), (key, name, values)
    assert options["all/tollway-traffic"] == {
        "org": ["acme", "beta"],
        "team": ["ml", "ops", "web"],
        "model": ["claude", "gpt-4o", "llama"],
    }
    assert options["selected/tollway-traffic"]["team"] == ["ml", "web"], "teams of acme only"


@pytest.mark.parametrize("state", ["all", "selected"])
@pytest.mark.parametrize("panel", _panels(), ids=lambda p: p.name)
def test_panel_answers_with_the_columns_it_needs(
    results: dict[str, dict[str, Any]], panel: Panel, state: str
) -> None:
    answer = results[f"{state}/{panel.name}"]
    columns = [(column["name"], column["type"]) for column in answer["meta"]]
    assert answer["data"], f"{panel.name} is empty for seeded data"
    numeric = [name for name, kind in columns if _is_number(kind)]
    if panel.kind == "timeseries":
        assert columns[0][0] == "time"
        assert columns[0][1].startswith(TIME_TYPES), columns
        assert numeric, "a series needs a value"
        labels = [name for name, kind in columns[1:] if not _is_number(kind)]
        assert len(labels) <= 1, "one label column at most (it names the series)"
    elif panel.kind == "stat":
        assert len(columns) == 1, "a stat shows one number"
        assert numeric == [columns[0][0]]
    else:
        assert [name for name, _ in columns] == TABLE_COLUMNS[panel.title]
    for row in answer["data"]:
        for name in numeric:
            assert row[name] is None or float(row[name]) >= 0, (panel.name, row)


def _is_number(kind: str) -> bool:
    bare = kind.removeprefix("Nullable(").removesuffix(")")
    return bare.startswith(("UInt", "Int", "Float", "Decimal"))


TABLE_COLUMNS = {
    "Top errors": [
        "model_alias",
        "deployment",
        "status_code",
        "error_type",
        "error_code",
        "errors",
        "last_seen",
    ],
    "Traffic by key": ["key_id", "key_name", "team_id", "requests", "errors", "streams"],
    "Latency by model and deployment": [
        "model_alias",
        "deployment",
        "requests",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "ttft_p50_ms",
        "ttft_p95_ms",
    ],
    "Cost by team and model": [
        "team_id",
        "model_alias",
        "currency",
        "requests",
        "prompt_tokens",
        "completion_tokens",
        "cost",
    ],
    "Top spenders (keys)": ["key_id", "key_name", "team_id", "requests", "cost"],
    "Cost by deployment and credential": [
        "deployment",
        "credential",
        "requests",
        "errors",
        "tokens",
        "cost",
    ],
    "Budget alerts": [
        "owner",
        "budget_id",
        "period_start",
        "latest",
        "budget",
        "spent_at_alert",
        "currency",
        "last_alert",
    ],
    "Team spend against its budget": ["team_id", "spend", "budget", "used"],
    "Unpriced models": ["model_alias", "provider", "requests", "tokens", "first_seen", "last_seen"],
    "Unpriced-model alerts": ["at", "model_alias", "message"],
}


def _value(results: dict[str, dict[str, Any]], key: str) -> Any:
    (row,) = results[key]["data"]
    (value,) = row.values()
    return value


def test_headline_numbers_count_each_request_once(results: dict[str, dict[str, Any]]) -> None:
    priced = [Decimal(row.get("cost", "0")) for row in USAGE]
    assert _value(results, "all/tollway-traffic: Requests") == len(USAGE)
    assert _value(results, "selected/tollway-traffic: Requests") == 3, "acme, ml, gpt-4o"
    assert _value(results, "all/tollway-traffic: Error rate") == pytest.approx(2 / 6)
    assert Decimal(str(_value(results, "all/tollway-cost: Cost"))) == sum(priced)
    assert _value(results, "all/tollway-cost: Unpriced requests") == 1
    assert _value(results, "selected/tollway-cost: Unpriced requests") == 0
    assert _value(results, "all/tollway-cost: Tokens") == 5020
    assert _value(results, "all/tollway-budgets: Budgets exceeded") == 1
    assert _value(results, "all/tollway-budgets: Budgets past their soft limit") == 1
    assert _value(results, "all/tollway-budgets: Models without a price") == 1


def test_a_team_is_set_against_its_budget(results: dict[str, dict[str, Any]]) -> None:
    rows = {
        row["team_id"]: row
        for row in results["all/tollway-budgets: Team spend against its budget"]["data"]
    }
    assert rows["ml"]["budget"] == pytest.approx(0.02)
    assert rows["ml"]["spend"] == pytest.approx(0.02275)
    assert rows["ml"]["used"] == pytest.approx(0.02275 / 0.02)
    assert rows["web"]["budget"] == 0, "no alert yet: the limit is not known"


def test_cost_splits_by_deployment_and_by_each_credential_of_a_pool(
    results: dict[str, dict[str, Any]],
) -> None:
    table = results["all/tollway-cost: Cost by deployment and credential"]["data"]
    east = {row["credential"]: row for row in table if row["deployment"] == "gpt-4o-east"}
    assert east["pool-b"]["cost"] == pytest.approx(0.015)
    assert (east["pool-a"]["requests"], east["pool-a"]["tokens"]) == (1, 1500)
    assert (east[""]["requests"], east[""]["errors"]) == (2, 1), "single-key requests"
    series = results["all/tollway-cost: Cost by deployment"]["data"]
    assert {row["deployment"] for row in series} == {"gpt-4o-east", "llama-east", "claude-east"}
