"""Metering's Prometheus metrics: tokens and cost of the requests it stores (it prices them, so
cost is counted here and nowhere else), unpriced models, batches and inserts, consumer lag.

Counters count what was inserted; an event redelivered after a lost acknowledgement counts
again here, never in the warehouse (docs/metrics.md): exact totals come from ClickHouse.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from prometheus_client import Counter, Gauge, Histogram

from tollway_common.contract import UsageEvent
from tollway_common.metrics import LATENCY_BUCKETS
from tollway_metering.charges import Charge

TOKENS = Counter(
    "tollway_tokens",
    "Tokens of the requests stored, by model alias, provider and kind (prompt, completion, "
    "cached_read, cache_write, reasoning; cached and cache writes are part of prompt).",
    ["model", "provider", "kind"],
)
COST = Counter(
    "tollway_cost",
    "What the requests stored cost, in the currency of their price.",
    ["model", "provider", "currency"],
)
UNPRICED = Counter(
    "tollway_unpriced_requests",
    "Requests stored for a model with no price (cost 0, flagged unpriced).",
    ["model"],
)
EVENTS_STORED = Counter(
    "tollway_metering_events_stored",
    "Events inserted into the warehouse, by feed (usage, audit).",
    ["feed"],
)
BATCH_SIZE = Histogram(
    "tollway_metering_batch_size",
    "Events per warehouse insert.",
    ["feed"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000),
)
INSERT_DURATION = Histogram(
    "tollway_metering_insert_duration_seconds",
    "Time one warehouse insert took, failed ones included.",
    ["feed"],
    buckets=LATENCY_BUCKETS,
)
INSERT_FAILURES = Counter(
    "tollway_metering_insert_failures",
    "Inserts that failed; their batch is delivered again later.",
    ["feed"],
)
CONSUMER_PENDING = Gauge(
    "tollway_metering_consumer_pending",
    "Events in the stream not yet delivered to metering (the durable consumer's num_pending).",
    ["feed"],
)
CONSUMER_ACK_PENDING = Gauge(
    "tollway_metering_consumer_ack_pending",
    "Events delivered to metering and not yet acknowledged.",
    ["feed"],
)
WAREHOUSE_UP = Gauge("tollway_warehouse_up", "1 while the warehouse answers a query.")

_TOKEN_KINDS = tuple(
    (field, field.removesuffix("_tokens"))
    for field in (
        "prompt_tokens",
        "completion_tokens",
        "cached_read_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
    )
)


def record_usage(events: Sequence[UsageEvent], charges: Sequence[Charge]) -> None:
    """Count a stored batch: summed by label first, so each series moves once per batch."""
    tokens: defaultdict[tuple[str, str, str], int] = defaultdict(int)
    cost: defaultdict[tuple[str, str, str], float] = defaultdict(float)
    unpriced: defaultdict[str, int] = defaultdict(int)
    for event, charge in zip(events, charges, strict=True):
        model, provider = event.model_alias, event.provider
        for field, kind in _TOKEN_KINDS:
            count = getattr(event, field)
            if count:
                tokens[model, provider, kind] += count
        if charge.unpriced:
            unpriced[model] += 1
        elif charge.cost:
            cost[model, provider, charge.currency] += float(charge.cost)
    for labels, count in tokens.items():
        TOKENS.labels(*labels).inc(count)
    for labels, amount in cost.items():
        COST.labels(*labels).inc(amount)
    for model, requests in unpriced.items():
        UNPRICED.labels(model).inc(requests)
