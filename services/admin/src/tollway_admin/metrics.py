"""Admin's own Prometheus metrics: the operator alerts it hands on (budgets near or at their
limit, unpriced models), so Prometheus can alert on them too (the chart's PrometheusRule).
Request counts and latencies come from the shared HTTP middleware; docs/metrics.md lists all.
"""

from __future__ import annotations

from prometheus_client import Counter

from tollway_common.contract import Alert

ALERTS = Counter(
    "tollway_alerts",
    "Operator alerts received from the alerts stream (each counted on its first delivery), "
    "by kind: budget_soft_limit, budget_exceeded, unpriced_model.",
    ["kind"],
)


def count_alert(alert: Alert, delivery: int) -> None:
    """Count an alert once: a redelivery (its webhook failed before) is the same alert."""
    if delivery <= 1:
        ALERTS.labels(alert.kind.value).inc()
