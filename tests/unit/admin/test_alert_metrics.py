"""Admin counts each operator alert once, by kind, for the chart's Prometheus rules."""

from __future__ import annotations

from prometheus_client import REGISTRY

from tollway_admin.metrics import count_alert
from tollway_common.contract import Alert, AlertKind


def _count(kind: AlertKind) -> float:
    value = REGISTRY.get_sample_value("tollway_alerts_total", {"kind": kind.value})
    return value or 0.0


def test_an_alert_is_counted_on_its_first_delivery_only() -> None:
    alert = Alert(alert_id="a1", kind=AlertKind.BUDGET_SOFT, at_ms=1, message="80 %")
    before = _count(AlertKind.BUDGET_SOFT)
    count_alert(alert, delivery=1)
    count_alert(alert, delivery=2)  # its webhook failed once: the same alert again
    assert _count(AlertKind.BUDGET_SOFT) == before + 1


def test_each_kind_has_its_own_series() -> None:
    before = _count(AlertKind.BUDGET_EXCEEDED), _count(AlertKind.UNPRICED_MODEL)
    count_alert(Alert(alert_id="a2", kind=AlertKind.BUDGET_EXCEEDED, at_ms=1, message=""), 1)
    after = _count(AlertKind.BUDGET_EXCEEDED), _count(AlertKind.UNPRICED_MODEL)
    assert after == (before[0] + 1, before[1])
