"""`make chaos`: a mixed load at a fixed rate through the whole gateway on loopback while edge,
router, metering, admin, nats-server and redis-server are SIGKILLed in turn and started again;
then, per fault, what the clients saw, how long recovery took and whether the bill matches the
answers request id by request id. Writes bench/results/chaos-<time>.json and .md.

Settings (environment): CHAOS_RATE (30 requests/s), CHAOS_PERIOD_S (15 s of traffic after
each restart), CHAOS_LEAD_S (10 s of quiet traffic first), CHAOS_DOWN_S (1 s between kill and
restart, the supervisor's first back-off), CHAOS_TARGETS (comma-separated; all six by default).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.balance import (
    Fault,
    Rollup,
    Row,
    client_report,
    metering_report,
    orphan_rows,
    warehouse_report,
)
from bench.chaos_stack import (
    CHAT_MODEL,
    EMBED_MODEL,
    KEY,
    SERVERS,
    SERVICES,
    ChaosStack,
    query_warehouse,
)
from bench.outcome import Judged
from bench.traffic import Traffic, kinds

RESULTS = Path(__file__).parent / "results"


@dataclass
class Settings:
    rate: float = float(os.environ.get("CHAOS_RATE", "30"))
    period_s: float = float(os.environ.get("CHAOS_PERIOD_S", "15"))
    lead_s: float = float(os.environ.get("CHAOS_LEAD_S", "10"))
    down_s: float = float(os.environ.get("CHAOS_DOWN_S", "1"))
    targets: list[str] = field(
        default_factory=lambda: os.environ.get(
            "CHAOS_TARGETS", ",".join([*SERVICES, *SERVERS])
        ).split(",")
    )


async def _faults(stack: ChaosStack, settings: Settings) -> list[Fault]:
    """After the lead, each target in turn: SIGKILL, the down time, a restart, then a quiet
    period with the process back, so that no fault overlaps the last one's recovery."""
    faults: list[Fault] = []
    await asyncio.sleep(settings.lead_s)
    for target in settings.targets:
        killed_at = time.time()
        await asyncio.to_thread(stack.kill, target)
        await asyncio.sleep(settings.down_s)
        await asyncio.to_thread(stack.restart, target)
        faults.append(Fault(target, killed_at, time.time()))
        print(f"  {target}: killed, ready again after {time.time() - killed_at:.2f} s", flush=True)
        await asyncio.sleep(settings.period_s)
    return faults


async def _drive(stack: ChaosStack, settings: Settings) -> tuple[list[Judged], list[Fault]]:
    traffic = Traffic(stack.edge_port, KEY, kinds(CHAT_MODEL, EMBED_MODEL))
    stop = asyncio.Event()
    faults_task = asyncio.create_task(_faults(stack, settings))
    faults_task.add_done_callback(lambda _: stop.set())
    await traffic.run_until(settings.rate, stop)
    faults = await faults_task
    return traffic.answers, faults


def _read_rows(folder: Path) -> tuple[dict[str, Row], Rollup]:
    copies = {
        request_id: int(count)
        for request_id, count in query_warehouse(
            folder,
            "SELECT request_id, count() FROM tollway.usage_requests GROUP BY request_id "
            "HAVING count() > 1",
        )
    }
    rows = {
        record[0]: Row(
            request_id=record[0],
            received_at=int(record[1]) / 1000,
            status_code=int(record[2]),
            usage_estimated=bool(record[3]),
            prompt_tokens=int(record[4]),
            completion_tokens=int(record[5]),
            cost=Decimal(record[6]),
            raw_copies=copies.get(record[0], 1),
            source=record[7],
        )
        for record in query_warehouse(
            folder,
            "SELECT request_id, toUnixTimestamp64Milli(received_at), status_code, "
            "usage_estimated, prompt_tokens, completion_tokens, toString(cost), source "
            "FROM tollway.usage_requests FINAL",
        )
    }
    [totals] = query_warehouse(
        folder,
        "SELECT sumMerge(requests), sumMerge(prompt_tokens), sumMerge(completion_tokens), "
        "toString(sumMerge(cost)) FROM tollway.usage_minute",
    )
    rollup = Rollup(int(totals[0]), int(totals[1]), int(totals[2]), Decimal(totals[3]))
    return rows, rollup


def _windows(
    answers: list[Judged], faults: list[Fault]
) -> list[tuple[str, Fault | None, list[Judged]]]:
    """Each answer belongs to the last fault whose kill came before it ended, so a request in
    flight at a kill counts for that kill; answers that ended before the first kill are the
    baseline."""
    windows: list[tuple[str, Fault | None, list[Judged]]] = [("baseline", None, [])]
    windows += [(fault.target, fault, []) for fault in faults]
    for judged in answers:
        index = sum(1 for fault in faults if fault.killed_at <= judged.answer.ended)
        windows[index][2].append(judged)
    return windows


def _cut_by(row: Row, faults: list[Fault]) -> int:
    """The window (1-based fault index; 0 the baseline) of the first kill after `row`'s
    request was received."""
    for index, fault in enumerate(faults):
        if fault.killed_at >= row.received_at:
            return index + 1
    return len(faults)


def report(
    settings: Settings,
    answers: list[Judged],
    faults: list[Fault],
    rows: dict[str, Row],
    rollup: Rollup,
    settled: bool,
) -> dict[str, Any]:
    seen = {j.answer.request_id for j in answers if j.answer.request_id}
    orphans = orphan_rows(rows, seen)
    per_fault = []
    for index, (name, fault, inside) in enumerate(_windows(answers, faults)):
        # A row no client saw an id for was cut by the first kill after it was received.
        window_orphans = [row for row in orphans if _cut_by(row, faults) == index]
        per_fault.append(
            {
                "fault": name,
                "clients": client_report(inside, fault),
                "metering": {
                    **metering_report(inside, rows),
                    "rows_without_client_id": len(window_orphans),
                    "rows_without_client_id_status_200": sum(
                        1 for row in window_orphans if row.status_code == 200
                    ),
                },
            }
        )
    return {
        "settings": asdict(settings),
        "machine": {"cpus": os.cpu_count(), "load_1m": os.getloadavg()[0]},
        "usage_settled": settled,
        "totals": {
            "clients": client_report(answers, None),
            "metering": metering_report(answers, rows),
            "rows_without_client_id": len(orphans),
            "warehouse": warehouse_report(rows, rollup),
        },
        "faults": per_fault,
    }


def markdown(result: dict[str, Any]) -> str:
    settings = result["settings"]
    lines = [
        f"Rate {settings['rate']:g} req/s, {settings['period_s']:g} s after each restart, "
        f"{settings['down_s']:g} s down before each restart; "
        f"{result['totals']['clients']['requests']} requests; "
        f"usage settled: {result['usage_settled']}.",
        "",
        "| fault | requests | errors | in flight | in outage | after recovery | malformed "
        "| restart s | errors until s | answered / one row | tokens differ "
        "| failed with row 200 | failed rows priced (from estimates) "
        "| rows without client id (of them 200) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for entry in result["faults"]:
        c, m = entry["clients"], entry["metering"]
        lines.append(
            f"| {entry['fault']} | {c['requests']} | {c['errors']} | {c.get('in_flight', '-')} "
            f"| {c.get('in_outage', '-')} | {c.get('after_recovery', '-')} | {c['malformed']} "
            f"| {c.get('restart_s', '-')} | {c.get('errors_ended_until_s', '-')} "
            f"| {m['answered']} / {m['answered_with_one_row']} | {m['answered_tokens_differ']} "
            f"| {m['failed_rows_status_200']} | {m['failed_rows_priced']} "
            f"({m['failed_rows_estimate_priced']}) | {m['rows_without_client_id']} "
            f"({m['rows_without_client_id_status_200']}) |"
        )
    w = result["totals"]["warehouse"]
    lines += [
        "",
        f"Warehouse: {w['billing_rows']} billing rows, {w['estimated_rows']} estimated "
        f"({w['estimated_rows_priced']} of them priced), {w['ids_with_raw_duplicates']} ids with "
        f"raw duplicates merged away, rows by source {w['rows_by_source']}; per-minute rollup "
        f"counts {w['rollup_requests']} requests ({w['rollup_minus_billing']:+d} against "
        f"billing), tokens {w['rollup_tokens_minus_billing']:+d}, cost "
        f"{w['rollup_cost_minus_billing']} against billing.",
    ]
    kinds_line = ", ".join(
        f"{entry['fault']}: {entry['clients']['by_verdict']}"
        for entry in result["faults"]
        if entry["clients"]["errors"]
    )
    lines.append(f"Error kinds: {kinds_line or 'none'}.")
    return "\n".join(lines) + "\n"


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    # SIGTERM stops the stack like Ctrl-C does, so no server outlives the run.
    signal.signal(signal.SIGTERM, _interrupt)
    settings = Settings()
    workdir = Path(tempfile.mkdtemp(prefix="tollway-chaos-"))
    stack = ChaosStack(workdir)
    print(
        f"chaos: {settings.rate:g} req/s, {settings.period_s:g} s after each restart, "
        f"killing {', '.join(settings.targets)}; logs in {workdir}",
        flush=True,
    )
    try:
        stack.start()
        answers, faults = asyncio.run(_drive(stack, settings))
        settled = asyncio.run(stack.usage_settled())
    finally:
        stack.stop()
    rows, rollup = _read_rows(stack.chdb_folder)
    result = report(settings, answers, faults, rows, rollup, settled)
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    (RESULTS / f"chaos-{stamp}.json").write_text(json.dumps(result, indent=2) + "\n")
    text = markdown(result)
    (RESULTS / f"chaos-{stamp}.md").write_text(text)
    print(text)
    print(f"wrote bench/results/chaos-{stamp}.json and .md")
    bad = sum(entry["clients"].get("after_recovery", 0) for entry in result["faults"])
    bad += result["totals"]["clients"]["malformed"]
    bad += result["totals"]["metering"]["answered_without_row"]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
