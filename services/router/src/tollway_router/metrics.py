"""The router's Prometheus metrics, and the calls the routing code makes to keep them.

Requests, upstream latency and time to first token are observed from each request's usage
event (`observe_request`); retries, fallbacks and deployment health are reported by the routing
code as they happen:

    metrics.record_retry(alias, deployment, reason)
    metrics.record_fallback(alias, from_deployment, to_deployment, reason)
    metrics.set_deployment_state(alias, deployment, HealthState.RATE_LIMITED)

Labels are the catalog's names (model alias, deployment, provider) and short reason codes, never
free text, so the series stay as many as the catalog has entries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from tollway_common.contract import HealthState, UsageEvent
from tollway_common.control import ModelAlias
from tollway_common.metrics import LATENCY_BUCKETS

REQUESTS = Counter(
    "tollway_router_requests",
    "Requests the router finished, by model alias, deployment, provider and status.",
    ["model", "deployment", "provider", "status"],
)
UPSTREAM_LATENCY = Histogram(
    "tollway_upstream_latency_seconds",
    "Time from the request reaching the router to the upstream's response headers.",
    ["model", "deployment"],
    buckets=LATENCY_BUCKETS,
)
UPSTREAM_TIME_TO_FIRST_TOKEN = Histogram(
    "tollway_upstream_time_to_first_token_seconds",
    "Time from the request reaching the router to the first answer chunk it relays.",
    ["model", "deployment"],
    buckets=LATENCY_BUCKETS,
)
IN_FLIGHT = Gauge(
    "tollway_router_requests_in_flight",
    "Requests this router is serving now (it leaves the queue group at max_inflight).",
)
RETRIES = Counter(
    "tollway_router_retries",
    "Upstream calls tried again on the same deployment, by the reason for the retry.",
    ["model", "deployment", "reason"],
)
FALLBACKS = Counter(
    "tollway_router_fallbacks",
    "Requests moved from one deployment to another, by the reason for the move.",
    ["model", "from_deployment", "to_deployment", "reason"],
)

_STATES = tuple(state.value for state in HealthState)


def observe_request(event: UsageEvent) -> None:
    """A finished request: its status and timings, from the usage event it published."""
    model, deployment = event.model_alias, event.deployment
    REQUESTS.labels(model, deployment, event.provider, str(event.status_code)).inc()
    if event.upstream_latency_ms is not None:
        UPSTREAM_LATENCY.labels(model, deployment).observe(event.upstream_latency_ms / 1000)
    if event.ttft_ms is not None:
        UPSTREAM_TIME_TO_FIRST_TOKEN.labels(model, deployment).observe(event.ttft_ms / 1000)


def record_retry(alias: str, deployment: str, reason: str) -> None:
    """One more try on `deployment`; `reason` is a short code (`rate_limited`, `timeout`,
    `upstream_error`, or the error's `code`)."""
    RETRIES.labels(alias, deployment, reason).inc()


def record_fallback(alias: str, from_deployment: str, to_deployment: str, reason: str) -> None:
    FALLBACKS.labels(alias, from_deployment, to_deployment, reason).inc()


class DeploymentStates(Collector):
    """`tollway_deployment_state`: one series per deployment and state, 1 for the state it is in.

    Every deployment in the router's catalog is listed, `active` until the routing code says
    otherwise; a deployment removed from the catalog disappears.
    """

    def __init__(self) -> None:
        self._catalog: Callable[[], Mapping[str, ModelAlias]] | None = None
        self._states: dict[tuple[str, str], str] = {}

    def watch(self, catalog: Callable[[], Mapping[str, ModelAlias]]) -> None:
        self._catalog = catalog

    def set(self, alias: str, deployment: str, state: HealthState) -> None:
        self._states[(alias, deployment)] = state.value

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "tollway_deployment_state",
            "1 for the health state each deployment is in (active, inactive, rate_limited, "
            "invalid), 0 for the others.",
            labels=["model", "deployment", "state"],
        )
        for alias, deployment in self._deployments():
            current = self._states.get((alias, deployment), HealthState.ACTIVE.value)
            for state in _STATES:
                family.add_metric([alias, deployment, state], 1.0 if state == current else 0.0)
        yield family

    def _deployments(self) -> Iterable[tuple[str, str]]:
        if self._catalog is None:
            return sorted(self._states)
        return sorted({(m.name, d.name) for m in self._catalog().values() for d in m.deployments})


DEPLOYMENT_STATES = DeploymentStates()
REGISTRY.register(DEPLOYMENT_STATES)


def set_deployment_state(alias: str, deployment: str, state: HealthState) -> None:
    DEPLOYMENT_STATES.set(alias, deployment, state)


def watch_catalog(catalog: Callable[[], Mapping[str, ModelAlias]]) -> None:
    """List the deployments of this catalog (the router's models mirror) in the state metric."""
    DEPLOYMENT_STATES.watch(catalog)
