"""The router's Prometheus metrics, and the calls the routing code makes to keep them.

Requests, upstream latency and time to first token are observed from each request's usage
event (`observe_request`); retries, fallbacks and deployment health are reported by the routing
code as they happen:

    metrics.record_retry(alias, deployment, reason)
    metrics.record_fallback(requested_alias, from_alias, to_alias, reason)

and the deployment states are read from the shared health records at each scrape.

Labels are the catalog's names (model alias, deployment, provider) and short reason codes, never
free text, so the series stay as many as the catalog has entries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import NamedTuple

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from tollway_common.contract import DeploymentHealth, HealthState, UsageEvent
from tollway_common.control import ModelAlias
from tollway_common.metrics import LATENCY_BUCKETS
from tollway_common.oauth_tokens import TokenHealth, TokenState, account_key, refresh_accounts

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
RESPONSES_NOT_STORED = Counter(
    "tollway_router_responses_not_stored",
    "Responses API answers that were served but could not be stored for later reads, by "
    "reason (too_large, bad_id, error).",
    ["reason"],
)
IN_FLIGHT = Gauge(
    "tollway_router_requests_in_flight",
    "Requests this router is serving now (it leaves the queue group at max_inflight).",
)
USAGE_UNACKNOWLEDGED = Gauge(
    "tollway_router_usage_events_unacknowledged",
    "Usage events published and not yet acknowledged by JetStream (retried until they are).",
)
RETRIES = Counter(
    "tollway_router_retries",
    "Upstream calls that failed and were tried again (on the same or another deployment or "
    "credential), by the failed deployment and the error code.",
    ["model", "deployment", "reason"],
)
FALLBACKS = Counter(
    "tollway_router_fallbacks",
    "Requests moved to a fallback model alias, by the alias asked for, the one that failed, "
    "the one tried next and the error code.",
    ["model", "from_model", "to_model", "reason"],
)

_STATES = tuple(state.value for state in HealthState)


class _RequestSeries(NamedTuple):
    requests: Counter
    latency: Histogram
    ttft: Histogram


# The labelled series of each (alias, deployment, provider, status), looked up once: the
# client's `labels()` validates and locks on every call (three per request, ~6 % of the
# router's Python calls). Bounded like the series themselves, by the catalog's names.
_SERIES: dict[tuple[str, str, str, int], _RequestSeries] = {}
_SERIES_MAX = 4096


def _series(model: str, deployment: str, provider: str, status: int) -> _RequestSeries:
    key = (model, deployment, provider, status)
    series = _SERIES.get(key)
    if series is None:
        if len(_SERIES) >= _SERIES_MAX:
            _SERIES.clear()
        series = _SERIES[key] = _RequestSeries(
            REQUESTS.labels(model, deployment, provider, str(status)),
            UPSTREAM_LATENCY.labels(model, deployment),
            UPSTREAM_TIME_TO_FIRST_TOKEN.labels(model, deployment),
        )
    return series


def observe_request(event: UsageEvent) -> None:
    """A finished request: its status and timings, from the usage event it published."""
    series = _series(event.model_alias, event.deployment, event.provider, event.status_code)
    series.requests.inc()
    if event.upstream_latency_ms is not None:
        series.latency.observe(event.upstream_latency_ms / 1000)
    if event.ttft_ms is not None:
        series.ttft.observe(event.ttft_ms / 1000)


def record_retry(alias: str, deployment: str, reason: str) -> None:
    """One more try on `deployment`; `reason` is a short code (`rate_limited`, `timeout`,
    `upstream_error`, or the error's `code`)."""
    RETRIES.labels(alias, deployment, reason).inc()


def record_fallback(alias: str, from_model: str, to_model: str, reason: str) -> None:
    FALLBACKS.labels(alias, from_model, to_model, reason).inc()


class DeploymentStates(Collector):
    """`tollway_deployment_state`: one series per deployment (and pool credential) and state, 1
    for the state it is in, read from the shared health records when scraped.

    Every deployment in the router's catalog is listed, `active` unless a record says otherwise;
    a deployment removed from the catalog disappears.
    """

    def __init__(self) -> None:
        self._catalog: Callable[[], Mapping[str, ModelAlias]] | None = None
        self._health: Callable[[], Iterable[DeploymentHealth]] = tuple

    def watch(
        self,
        catalog: Callable[[], Mapping[str, ModelAlias]],
        health: Callable[[], Iterable[DeploymentHealth]],
    ) -> None:
        self._catalog = catalog
        self._health = health

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "tollway_deployment_state",
            "1 for the health state each deployment or pool credential is in (active, "
            "inactive, rate_limited, invalid), 0 for the others.",
            labels=["model", "deployment", "credential", "state"],
        )
        current: dict[tuple[str, str, str], str] = {}
        if self._catalog is not None:
            for model in self._catalog().values():
                for deployment in model.deployments:
                    names = [c.name for c in deployment.credentials] or [""]
                    for name in names:
                        current[(model.name, deployment.name, name)] = HealthState.ACTIVE.value
        records = list(self._health())
        for record in records:
            key = (record.alias, record.deployment, record.credential)
            if key in current or self._catalog is None:
                current[key] = record.state.value
        counts = _state_counts(self._catalog, records)
        for (alias, name, credential), state_now in sorted(current.items()):
            for state in _STATES:
                family.add_metric(
                    [alias, name, credential, state], 1.0 if state == state_now else 0.0
                )
        yield family
        totals = GaugeMetricFamily(
            "tollway_health_state_count",
            "How many deployments (level deployment) and pool credentials (level credential) "
            "are in each health state.",
            labels=["level", "state"],
        )
        for (level, state), count in sorted(counts.items()):
            totals.add_metric([level, state], float(count))
        yield totals


def _state_counts(
    catalog: Callable[[], Mapping[str, ModelAlias]] | None, records: list[DeploymentHealth]
) -> dict[tuple[str, str], int]:
    """Deployments of the catalog, and credentials of its pools, per state (no record:
    active); the deployment's own record counts for a pool's deployment."""
    counts = {(level, state): 0 for level in ("deployment", "credential") for state in _STATES}
    states = {(r.alias, r.deployment, r.credential): r.state.value for r in records}
    active = HealthState.ACTIVE.value
    for model in catalog().values() if catalog is not None else ():
        for deployment in model.deployments:
            level = states.get((model.name, deployment.name, ""), active)
            counts[("deployment", level)] += 1
            for credential in deployment.credentials:
                own = states.get((model.name, deployment.name, credential.name), active)
                counts[("credential", own)] += 1
    return counts


DEPLOYMENT_STATES = DeploymentStates()
REGISTRY.register(DEPLOYMENT_STATES)


def watch_catalog(
    catalog: Callable[[], Mapping[str, ModelAlias]],
    health: Callable[[], Iterable[DeploymentHealth]],
) -> None:
    """List the deployments of this catalog (the router's models mirror) in the state metric,
    with the states of the shared health records."""
    DEPLOYMENT_STATES.watch(catalog, health)


class OAuthTokens(Collector):
    """Token health of each OAuth refresh-token account in the catalog, from the records the
    routers share (`KV_OAUTH_HEALTH`): expiry, last refresh, failures in a row and state.
    Labels are catalog names only; never a token or a reason's text."""

    def __init__(self) -> None:
        self._catalog: Callable[[], Mapping[str, ModelAlias]] | None = None
        self._health: Callable[[], Mapping[str, TokenHealth]] = dict

    def watch(
        self,
        catalog: Callable[[], Mapping[str, ModelAlias]],
        health: Callable[[], Mapping[str, TokenHealth]],
    ) -> None:
        self._catalog = catalog
        self._health = health

    def collect(self) -> Iterator[GaugeMetricFamily]:
        labels = ["model", "deployment", "credential"]
        expires = GaugeMetricFamily(
            "tollway_oauth_token_expires_at_seconds",
            "Unix time the account's current access token expires (0: none yet).",
            labels=labels,
        )
        refreshed = GaugeMetricFamily(
            "tollway_oauth_token_last_refresh_seconds",
            "Unix time of the account's last successful token refresh (0: never).",
            labels=labels,
        )
        failures = GaugeMetricFamily(
            "tollway_oauth_token_failures",
            "Failed refreshes in a row (0 after a success).",
            labels=labels,
        )
        states = GaugeMetricFamily(
            "tollway_oauth_token_state",
            "1 for the token state each OAuth account is in (active, invalid), 0 for the other.",
            labels=[*labels, "state"],
        )
        health = self._health()
        catalog = self._catalog() if self._catalog is not None else {}
        for model in catalog.values():
            for deployment in model.deployments:
                for name, auth in refresh_accounts(deployment):
                    key = account_key(auth, deployment.oauth_scope(auth))
                    record = health.get(key) or TokenHealth(account=key)
                    values = [model.name, deployment.name, name]
                    expires.add_metric(values, record.expires_at)
                    refreshed.add_metric(values, record.last_refresh)
                    failures.add_metric(values, float(record.failures))
                    for state in TokenState:
                        states.add_metric([*values, state.value], float(record.state is state))
        yield from (expires, refreshed, failures, states)


OAUTH_TOKENS = OAuthTokens()
REGISTRY.register(OAUTH_TOKENS)


def watch_tokens(
    catalog: Callable[[], Mapping[str, ModelAlias]],
    health: Callable[[], Mapping[str, TokenHealth]],
) -> None:
    """Report the token health of this catalog's OAuth accounts."""
    OAUTH_TOKENS.watch(catalog, health)
