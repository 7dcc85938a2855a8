"""Which usage rows a batch writes, given the rows already stored for its requests (pure;
`warehouse.py` looks the stored rows up and writes the plan).

A request's row says what its client got and what its provider charged. The router knows the
charge; the edge knows when its client got an error the router could not see (the router was
lost, NATS went away). Each publishes its own event, in either order, and JetStream may deliver
either again. The row that knows most wins: the edge's alone, the router's alone, or both
merged (the router's tokens and cost, the edge's status). A batch that teaches nothing new (a
redelivery) writes nothing, so the rollups, which count what is written, count each request
once; a stored row that a better one replaces is written to `usage_retractions`, which the
rollups subtract.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tollway_common.contract import UsageEvent
from tollway_metering.charges import Charge
from tollway_metering.rows import (
    MERGED_SOURCE,
    RANK_EDGE,
    RANK_MERGED,
    RANK_ROUTER,
    USAGE_INDEX,
    retraction_row,
    usage_row,
)

_RANK = USAGE_INDEX["source_rank"]
# What the client got, which only the edge's event knows when it exists.
_CLIENT_FIELDS = tuple(USAGE_INDEX[name] for name in ("status_code", "error_type", "error_code"))


@dataclass
class Plan:
    rows: list[list[Any]] = field(default_factory=list)
    # Stored rows (in USAGE_COLUMNS order) that `rows` replace, as usage_retractions takes them.
    retractions: list[list[Any]] = field(default_factory=list)
    # Requests whose events added nothing to what was stored (redeliveries).
    skipped: int = 0


def plan(
    events: Sequence[UsageEvent],
    charges: Sequence[Charge],
    stored: Mapping[str, Sequence[Any]],
) -> Plan:
    """`stored` maps a request id to its best stored row (highest rank), in USAGE_COLUMNS order."""
    fresh: dict[str, dict[int, list[Any]]] = {}
    for event, charge in zip(events, charges, strict=True):
        row = usage_row(event, charge)
        fresh.setdefault(event.request_id, {})[row[_RANK]] = row
    result = Plan()
    for request_id, by_rank in fresh.items():
        old = stored.get(request_id)
        old_rank = int(old[_RANK]) if old is not None else 0
        known: dict[int, Sequence[Any]] = dict(by_rank)
        if old is not None:
            known.setdefault(old_rank, old)
        best = _best(known)
        if best is None or int(best[_RANK]) <= old_rank:
            result.skipped += 1
            continue
        result.rows.append(list(best))
        if old is not None:
            result.retractions.append(retraction_row(old))
    return result


def _best(known: Mapping[int, Sequence[Any]]) -> Sequence[Any] | None:
    if RANK_MERGED in known:
        return known[RANK_MERGED]
    router, edge = known.get(RANK_ROUTER), known.get(RANK_EDGE)
    if router is not None and edge is not None:
        return merge(router, edge)
    return router if router is not None else edge


def merge(router: Sequence[Any], edge: Sequence[Any]) -> list[Any]:
    """The router's row (what the provider charged) with the status the edge saw its client
    get: the edge writes an event only when the client got an error the router never saw."""
    row = list(router)
    for index in _CLIENT_FIELDS:
        row[index] = edge[index]
    row[USAGE_INDEX["source"]] = MERGED_SOURCE
    row[_RANK] = RANK_MERGED
    return row
