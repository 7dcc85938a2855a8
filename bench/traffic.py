"""A mixed open-loop load for `make chaos` and `make soak` that keeps every answer: chat, Anthropic
Messages and embeddings, half of them streams, one new connection per request (a client that
reuses a connection the edge's restart closed would count the edge's restart twice).

Each request records when it was scheduled and ended, its status, the `x-request-id` the edge
gave it, the usage the client saw, and whether its error had the client's own shape. The pure
verdict on one answer is `outcome.py`'s; this module does the I/O.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import orjson

from bench.load import on_schedule
from bench.outcome import Answer, Judged, judge

REQUEST_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Kind:
    name: str
    path: str
    body: dict[str, Any]
    weight: int

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))


def kinds(chat_model: str, embed_model: str) -> list[Kind]:
    """The mix: half streams; weights out of 10."""
    chat = {"model": chat_model, "messages": [{"role": "user", "content": "Say hello."}]}
    messages = {**chat, "max_tokens": 64}
    return [
        Kind(
            "chat-stream",
            "/v1/chat/completions",
            {**chat, "stream": True, "stream_options": {"include_usage": True}},
            3,
        ),
        Kind("chat", "/v1/chat/completions", chat, 2),
        Kind("messages-stream", "/v1/messages", {**messages, "stream": True}, 2),
        Kind("messages", "/v1/messages", messages, 1),
        Kind("embeddings", "/v1/embeddings", {"model": embed_model, "input": "one two three"}, 2),
    ]


def schedule(mix: list[Kind]) -> list[Kind]:
    """One round of the mix in an interleaved order (streams and non-streams alternate)."""
    rounds: list[Kind] = []
    left = {kind.name: kind.weight for kind in mix}
    while any(left.values()):
        for kind in mix:
            if left[kind.name]:
                rounds.append(kind)
                left[kind.name] -= 1
    return rounds


@dataclass
class Traffic:
    port: int
    key: str
    mix: list[Kind]

    def __post_init__(self) -> None:
        self.answers: list[Judged] = []
        self._order = schedule(self.mix)
        self._sent = 0

    async def run(self, rate: float, duration_s: float) -> None:
        await on_schedule(rate, duration_s, self._one)

    async def run_until(self, rate: float, stop: asyncio.Event) -> None:
        """Start requests `rate` times a second, each at its scheduled time, until `stop` is
        set; then wait (bounded) for those in flight."""
        tasks: set[asyncio.Task[None]] = set()
        start = time.perf_counter() + 0.05
        index = 0
        while not stop.is_set():
            scheduled = start + index / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(self._one(scheduled))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            index += 1
        if tasks:
            await asyncio.wait(tasks, timeout=REQUEST_TIMEOUT_S + 5)

    async def _one(self, scheduled: float) -> None:
        kind = self._order[self._sent % len(self._order)]
        self._sent += 1
        answer = Answer(kind.name, kind.stream, started=time.time())
        try:
            await asyncio.wait_for(self._exchange(kind, answer), REQUEST_TIMEOUT_S)
        except (OSError, asyncio.IncompleteReadError, ValueError, TimeoutError) as exc:
            answer.transport_error = type(exc).__name__
        answer.ended = time.time()
        judged = judge(answer)
        if judged.ok:
            answer.body = b""  # a soak sends hundreds of thousands; keep what failed only
        self.answers.append(judged)

    async def _exchange(self, kind: Kind, answer: Answer) -> None:
        """Fill `answer` as the reply arrives, so a cut stream keeps its status, id and body."""
        body = orjson.dumps(kind.body)
        request = (
            f"POST {kind.path} HTTP/1.1\r\nhost: 127.0.0.1:{self.port}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
            f"authorization: Bearer {self.key}\r\nx-api-key: {self.key}\r\n"
            "anthropic-version: 2023-06-01\r\nconnection: close\r\n\r\n"
        ).encode() + body
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port, limit=1 << 20)
        try:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            answer.status, answer.request_id = _status_and_id(head)
            if b"transfer-encoding: chunked" not in head.lower():
                answer.body = await reader.read()
                answer.complete = True
                return
            while True:
                size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
                if size == 0:
                    answer.complete = True
                    return
                answer.body += (await reader.readexactly(size + 2))[:-2]
        finally:
            writer.close()


def _status_and_id(head: bytes) -> tuple[int, str]:
    status = int(head[9:12])
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"x-request-id":
            return status, value.strip().decode()
    return status, ""
