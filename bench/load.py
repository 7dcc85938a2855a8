"""A small load generator on raw asyncio streams (HTTP/1.1 keep-alive), cheap enough per
request that the direct-to-upstream run (A) shows it is not the bottleneck.

Open-loop latency is measured from each request's scheduled start, so a slow target cannot
hide its queueing (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Sample:
    ok: bool
    latency_s: float
    ttft_s: float | None = None
    # The HTTP status, or the exception's name when no response came.
    outcome: str = "200"


@dataclass
class LoadResult:
    samples: list[Sample] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def errors(self) -> int:
        return sum(1 for sample in self.samples if not sample.ok)

    def error_kinds(self) -> dict[str, int]:
        kinds: dict[str, int] = {}
        for sample in self.samples:
            if not sample.ok:
                kinds[sample.outcome] = kinds.get(sample.outcome, 0) + 1
        return kinds

    @property
    def throughput(self) -> float:
        done = sum(1 for sample in self.samples if sample.ok)
        return done / self.duration_s if self.duration_s else 0.0


class Target:
    def __init__(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        header_lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.request = (
            f"POST {parts.path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
            f"{header_lines}\r\n"
        ).encode() + body


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, target: Target) -> Connection:
        reader, writer = await asyncio.open_connection(target.host, target.port, limit=1 << 20)
        return cls(reader, writer)

    def close(self) -> None:
        self.writer.close()

    async def send(self, target: Target, started: float) -> Sample:
        self.writer.write(target.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        ttft: float | None = None
        if b"transfer-encoding: chunked" in lower:
            while True:
                size = int((await self.reader.readuntil(b"\r\n"))[:-2], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                data = await self.reader.readexactly(size + 2)
                if ttft is None and b"data: " in data:
                    ttft = time.perf_counter() - started
        else:
            start = lower.index(b"content-length: ") + 16
            length = int(lower[start : lower.index(b"\r\n", start)])
            await self.reader.readexactly(length)
        return Sample(status == 200, time.perf_counter() - started, ttft, str(status))


async def closed_loop(
    target: Target, concurrency: int, duration_s: float, stagger_s: float = 0.0
) -> LoadResult:
    """`concurrency` clients each sending one request after another. With `stagger_s`, client i
    starts i/concurrency of it late, so long requests (streams) do not all begin in lockstep."""
    result = LoadResult()
    deadline = time.perf_counter() + duration_s

    async def worker(index: int) -> None:
        await asyncio.sleep(stagger_s * index / concurrency)
        connection = await Connection.open(target)
        try:
            while time.perf_counter() < deadline:
                try:
                    result.samples.append(await connection.send(target, time.perf_counter()))
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    result.samples.append(Sample(False, 0.0, outcome=type(exc).__name__))
                    connection.close()
                    connection = await Connection.open(target)
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(index) for index in range(concurrency)))
    result.duration_s = time.perf_counter() - started
    return result


async def open_loop(target: Target, rate: float, duration_s: float) -> LoadResult:
    result = LoadResult()
    idle: list[Connection] = []

    async def one(scheduled: float) -> None:
        reused = bool(idle)
        connection = idle.pop() if idle else await Connection.open(target)
        try:
            try:
                sample = await connection.send(target, scheduled)
            except (ConnectionError, asyncio.IncompleteReadError):
                if not reused:
                    raise
                # The server closed this idle keep-alive connection just as it was reused;
                # like any HTTP client, retry once on a new one.
                connection.close()
                connection = await Connection.open(target)
                sample = await connection.send(target, scheduled)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            connection.close()
            latency = time.perf_counter() - scheduled
            result.samples.append(Sample(False, latency, outcome=type(exc).__name__))
            return
        result.samples.append(sample)
        idle.append(connection)

    await on_schedule(rate, duration_s, one)
    result.duration_s = duration_s
    for connection in idle:
        connection.close()
    return result


async def on_schedule(
    rate: float, duration_s: float, one: Callable[[float], Coroutine[Any, Any, None]]
) -> None:
    """Start `one(scheduled)` `rate` times a second for `duration_s`, each at its scheduled
    time whatever the earlier ones are doing, and wait for them all."""
    tasks: set[asyncio.Task[None]] = set()
    start = time.perf_counter() + 0.05
    for index in range(int(rate * duration_s)):
        scheduled = start + index / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=30)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]
